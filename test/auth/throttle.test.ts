import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { accountKey, addressKey, currentFailures, FAILURE_DECAY_MS, LoginThrottle, throttleWaitS, type ThrottleReserve } from '../../src/auth/throttle.js';
import { KyselyThrottleStore } from '../../src/db/throttle.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

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

/** Reserves, expecting the attempt to be allowed; a wrong secret needs nothing more (the reservation is the failure). */
async function failOnce(throttle: LoginThrottle, keys: string[]): Promise<void> {
  const gate = await throttle.reserve(keys);
  assert.equal(gate.allowed, true, 'the attempt should have been allowed');
}

function retryAfter(gate: ThrottleReserve): number | 'allowed' {
  return gate.allowed ? 'allowed' : gate.retryAfterS;
}

for (const dialect of ALL_DIALECTS) {
  describe(`LoginThrottle on the login_throttle table (${dialect})`, () => {
    let fresh: FreshDatabase;
    let store: KyselyThrottleStore;
    before(async () => {
      fresh = await freshDatabase(dialect);
      store = new KyselyThrottleStore(fresh.database);
    });
    after(() => fresh?.drop());
    const failuresOf = async (key: string) => (await store.get(key))?.failures;

    it('throttles a key after the free attempts, per key, with an injected clock', async () => {
      let now = T0;
      const throttle = new LoginThrottle(store, policy, () => now);
      const keys = [accountKey('alice'), addressKey('10.0.0.1')];
      for (let i = 0; i < 3; i++) await failOnce(throttle, keys);
      assert.equal(retryAfter(await throttle.reserve(keys)), 1);
      assert.deepEqual(await throttle.check([accountKey('bob')]), { allowed: true }, 'other keys are not affected');
      assert.equal(retryAfter(await throttle.reserve([accountKey('bob'), addressKey('10.0.0.1')])), 1, 'the address is');
      assert.equal(await failuresOf('account:bob'), 0, 'bob gave his attempt back when the address refused');
      assert.deepEqual(await throttle.check([accountKey('bob')]), { allowed: true });
      now += 1_000;
      await failOnce(throttle, keys);
      assert.equal(retryAfter(await throttle.reserve(keys)), 2);
      now += 2_000;
      await failOnce(throttle, keys);
      assert.equal(retryAfter(await throttle.reserve(keys)), 4);
      assert.equal(await failuresOf('account:alice'), 5, 'refused attempts do not count');
    });

    it('resets the account key on success and gives the address its attempt back', async () => {
      const now = T0;
      const throttle = new LoginThrottle(store, policy, () => now);
      const keys = [accountKey('carol'), addressKey('10.0.0.2')];
      for (let i = 0; i < 2; i++) await failOnce(throttle, keys);
      const gate = await throttle.reserve(keys);
      assert.ok(gate.allowed);
      assert.equal(await failuresOf('address:10.0.0.2'), 3, 'the attempt counts while the secret is checked');
      await throttle.succeed(gate.reservation, accountKey('carol'));
      assert.equal(await failuresOf('account:carol'), undefined);
      assert.equal(await failuresOf('address:10.0.0.2'), 2, 'the address keeps its earlier failures only');
      const released = await throttle.reserve([accountKey('dora')]);
      assert.ok(released.allowed);
      await throttle.release(released.reservation);
      assert.equal(await failuresOf('account:dora'), 0, 'a released attempt does not count');
    });

    it('starts counting again after the decay period', async () => {
      let now = T0;
      const throttle = new LoginThrottle(store, policy, () => now);
      const keys = [accountKey('dave')];
      await store.put(keys[0] as string, { failures: 10, lastFailureAt: new Date(now) });
      assert.equal(retryAfter(await throttle.reserve(keys)), 60);
      now += FAILURE_DECAY_MS + 1;
      await failOnce(throttle, keys);
      assert.equal(await failuresOf('account:dave'), 1);
    });

    // Issue 9: checked before and counted after the password, 20 parallel wrong passwords were all evaluated.
    for (const parallel of [20, 40, 100]) {
      it(`evaluates at most the limit of ${parallel} parallel attempts, in every window`, async () => {
        let now = T0 + parallel;
        const limits = { freeAttempts: 5, maxDelayS: 60 };
        // Two throttles over one table, as two instances over one database.
        const instances = [new LoginThrottle(store, limits, () => now), new LoginThrottle(new KyselyThrottleStore(fresh.database), limits, () => now)];
        const keys = [accountKey(`victim-${parallel}`), addressKey(`192.0.2.${parallel}`)];
        const burst = async () => {
          const gates = await Promise.all(Array.from({ length: parallel }, (_, i) => (instances[i % 2] as LoginThrottle).reserve(keys)));
          const refused = gates.filter((gate) => !gate.allowed).map((gate) => retryAfter(gate));
          return { evaluated: gates.length - refused.length, retryAfterS: Math.max(...(refused as number[])) };
        };
        const windows: number[] = [];
        const first = await burst();
        windows.push(first.evaluated);
        let wait = first.retryAfterS;
        for (let window = 0; window < 3; window++) {
          now += wait * 1000;
          const next = await burst();
          windows.push(next.evaluated);
          wait = next.retryAfterS;
        }
        console.log(`throttle ${dialect}: ${parallel} parallel wrong passwords evaluated per window: ${windows.join(', ')}`);
        assert.deepEqual(windows, [5, 1, 1, 1]);
        assert.equal(await failuresOf(keys[0] as string), 8);
      });
    }

    it('cleans up keys whose last failure is older than a bound', async () => {
      const throttle = new LoginThrottle(store, policy, () => T0 - FAILURE_DECAY_MS * 2);
      await failOnce(throttle, [addressKey('10.0.0.9')]);
      const removed = await store.deleteBefore(new Date(T0 - FAILURE_DECAY_MS));
      assert.ok(removed >= 1, `removed ${removed}`);
      assert.equal(await failuresOf('address:10.0.0.9'), undefined);
      assert.equal(await failuresOf('account:dave'), 1, 'recent keys stay');
    });
  });
}
