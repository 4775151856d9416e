import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { accountKey, addressKey, currentFailures, FAILURE_DECAY_MS, LoginThrottle, throttleWaitS } from '../../src/auth/throttle.js';
import { KyselyThrottleStore } from '../../src/db/throttle.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const policy = { freeAttempts: 3, maxDelayS: 60 };
const T0 = 1_700_000_000_000;

describe('throttle math', () => {
  it('lets the free attempts through, then doubles the wait, capped', () => {
    const at = (failures: number) => ({ failures, lastFailureAt: new Date(T0) });
    assert.equal(throttleWaitS(undefined, T0, policy), 0);
    assert.equal(throttleWaitS(at(2), T0, policy), 0);
    // failures - free = 0, 1, 2, ... -> 1, 2, 4, ... seconds after the last failure.
    const expected: Array<[number, number]> = [[3, 1], [4, 2], [5, 4], [6, 8], [7, 16], [8, 32], [9, 60], [10, 60], [500, 60]];
    for (const [failures, waitS] of expected) assert.equal(throttleWaitS(at(failures), T0, policy), waitS, `${failures} failures`);
  });

  it('counts the wait from the last failure and rounds up', () => {
    const state = { failures: 6, lastFailureAt: new Date(T0) }; // 8 s
    assert.equal(throttleWaitS(state, T0 + 500, policy), 8);
    assert.equal(throttleWaitS(state, T0 + 7_001, policy), 1);
    assert.equal(throttleWaitS(state, T0 + 8_000, policy), 0);
  });

  it('forgets failures after 15 minutes', () => {
    const state = { failures: 50, lastFailureAt: new Date(T0) };
    assert.equal(currentFailures(state, T0 + FAILURE_DECAY_MS), 50);
    assert.equal(currentFailures(state, T0 + FAILURE_DECAY_MS + 1), 0);
    assert.equal(FAILURE_DECAY_MS, 15 * 60 * 1000);
  });

  it('keeps keys within the database column', () => {
    assert.equal(accountKey('alice'), 'account:alice');
    assert.equal(addressKey('203.0.113.9'), 'address:203.0.113.9');
    const long = accountKey('x'.repeat(5000));
    assert.ok(long.length <= 255);
    assert.match(long, /^account:sha256:[0-9a-f]{64}$/);
    assert.notEqual(long, accountKey('y'.repeat(5000)));
  });
});

describe('LoginThrottle on the login_throttle table', () => {
  let fresh: FreshDatabase;
  let store: KyselyThrottleStore;
  before(async () => {
    fresh = await freshDatabase('sqlite');
    store = new KyselyThrottleStore(fresh.database);
  });
  after(() => fresh?.drop());
  const failuresOf = async (key: string) => (await store.get(key))?.failures;

  it('throttles a key after the free attempts, per key, with an injected clock', async () => {
    let now = T0;
    const throttle = new LoginThrottle(store, policy, () => now);
    const keys = [accountKey('alice'), addressKey('10.0.0.1')];
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await throttle.check(keys), { allowed: true });
      await throttle.fail(keys);
    }
    assert.deepEqual(await throttle.check(keys), { allowed: false, retryAfterS: 1 });
    assert.deepEqual(await throttle.check([accountKey('bob')]), { allowed: true }, 'other keys are not affected');
    assert.deepEqual(await throttle.check([accountKey('bob'), addressKey('10.0.0.1')]), { allowed: false, retryAfterS: 1 }, 'the address is');
    now += 1_000;
    assert.deepEqual(await throttle.check(keys), { allowed: true });
    await throttle.fail(keys);
    assert.deepEqual(await throttle.check(keys), { allowed: false, retryAfterS: 2 });
    now += 2_000;
    await throttle.fail(keys);
    assert.deepEqual(await throttle.check(keys), { allowed: false, retryAfterS: 4 });
    assert.equal(await failuresOf('account:alice'), 5);
  });

  it('resets only the account key on success', async () => {
    const now = T0;
    const throttle = new LoginThrottle(store, policy, () => now);
    const keys = [accountKey('carol'), addressKey('10.0.0.2')];
    for (let i = 0; i < 4; i++) await throttle.fail(keys);
    await throttle.succeed(accountKey('carol'));
    assert.deepEqual(await throttle.check([accountKey('carol')]), { allowed: true });
    assert.deepEqual(await throttle.check([addressKey('10.0.0.2')]), { allowed: false, retryAfterS: 2 });
  });

  it('starts counting again after the decay period', async () => {
    let now = T0;
    const throttle = new LoginThrottle(store, policy, () => now);
    const keys = [accountKey('dave')];
    for (let i = 0; i < 10; i++) await throttle.fail(keys);
    assert.deepEqual(await throttle.check(keys), { allowed: false, retryAfterS: 60 });
    now += FAILURE_DECAY_MS + 1;
    assert.deepEqual(await throttle.check(keys), { allowed: true });
    await throttle.fail(keys);
    assert.equal(await failuresOf('account:dave'), 1);
  });

  it('cleans up keys whose last failure is older than a bound', async () => {
    const throttle = new LoginThrottle(store, policy, () => T0 - FAILURE_DECAY_MS * 2);
    await throttle.fail([addressKey('10.0.0.9')]);
    const removed = await store.deleteBefore(new Date(T0 - FAILURE_DECAY_MS));
    assert.ok(removed >= 1, `removed ${removed}`);
    assert.equal(await failuresOf('address:10.0.0.9'), undefined);
    assert.equal(await failuresOf('account:dave'), 1, 'recent keys stay');
  });
});
