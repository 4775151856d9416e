import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker } from '../../src/storage/circuit-breaker.js';

describe('circuit breaker', () => {
  function breaker() {
    let clock = 1_000_000;
    const cb = new CircuitBreaker({ failureThreshold: 2, openMs: 30_000, now: () => clock });
    return { cb, advance: (ms: number) => (clock += ms) };
  }

  it('stays closed below the failure threshold, and a success resets the count', () => {
    const { cb } = breaker();
    cb.recordFailure();
    assert.equal(cb.state(), 'closed');
    cb.recordSuccess();
    cb.recordFailure();
    assert.equal(cb.state(), 'closed');
    assert.equal(cb.tryAcquire(), true);
  });

  it('opens after consecutive failures and avoids the location for openMs', () => {
    const { cb, advance } = breaker();
    cb.recordFailure();
    cb.recordFailure();
    assert.equal(cb.state(), 'open');
    assert.equal(cb.tryAcquire(), false);
    advance(29_999);
    assert.equal(cb.tryAcquire(), false);
    advance(1);
    assert.equal(cb.state(), 'half-open');
  });

  it('lets exactly one trial through when half-open; its success closes the breaker', () => {
    const { cb, advance } = breaker();
    cb.recordFailure();
    cb.recordFailure();
    advance(30_000);
    assert.equal(cb.tryAcquire(), true);
    assert.equal(cb.tryAcquire(), false, 'a second request went through during the trial');
    cb.recordSuccess();
    assert.equal(cb.state(), 'closed');
    assert.equal(cb.tryAcquire(), true);
    assert.equal(cb.tryAcquire(), true);
  });

  it('opens again for openMs when the trial fails', () => {
    const { cb, advance } = breaker();
    cb.recordFailure();
    cb.recordFailure();
    advance(30_000);
    assert.equal(cb.tryAcquire(), true);
    cb.recordFailure();
    assert.equal(cb.state(), 'open');
    advance(29_999);
    assert.equal(cb.tryAcquire(), false);
    advance(1);
    assert.equal(cb.tryAcquire(), true);
  });
});
