import { createHash } from 'node:crypto';
import type { ThrottleState, ThrottleStore } from '../db/account-metadata.js';

/**
 * Login throttling per key ("account:<name>", "address:<ip>"), shared by every instance through the
 * database. After `freeAttempts` consecutive failures, each further attempt must wait 2^(failures - free)
 * seconds (at most maxDelayS) after the last failure; a key whose last failure is older than
 * FAILURE_DECAY_MS starts again from zero. Attempts refused by the throttle do not count as failures, so a
 * client that keeps knocking is not locked out for longer than the delay itself.
 *
 * Instances read and write a key's count without a lock: two failures at the same moment on two instances
 * may count once. That loses a little precision, never safety (the next failure counts again).
 */

/** Failures this old are forgotten. */
export const FAILURE_DECAY_MS = 15 * 60 * 1000;
/** Counts stop growing here (the delay is capped long before). */
const MAX_COUNTED_FAILURES = 1000;
/** The database's key column length. */
const MAX_KEY_LENGTH = 255;

export interface ThrottlePolicy {
  freeAttempts: number;
  maxDelayS: number;
}

export type ThrottleCheck = { allowed: true } | { allowed: false; retryAfterS: number };

/** The failures that still count at `nowMs` (0 once the last one is older than FAILURE_DECAY_MS). */
export function currentFailures(state: ThrottleState | undefined, nowMs: number): number {
  if (state === undefined) return 0;
  return nowMs - state.lastFailureAt.getTime() > FAILURE_DECAY_MS ? 0 : state.failures;
}

/** Seconds a key must still wait before its next attempt at `nowMs` (0: it may try now). */
export function throttleWaitS(state: ThrottleState | undefined, nowMs: number, policy: ThrottlePolicy): number {
  const failures = currentFailures(state, nowMs);
  if (state === undefined || failures < policy.freeAttempts) return 0;
  const delayMs = Math.min(2 ** (failures - policy.freeAttempts), policy.maxDelayS) * 1000;
  const remainingMs = state.lastFailureAt.getTime() + delayMs - nowMs;
  return remainingMs > 0 ? Math.ceil(remainingMs / 1000) : 0;
}

/** The throttle key of an account name. */
export function accountKey(name: string): string {
  return boundedKey('account:', name);
}

/** The throttle key of a client address. */
export function addressKey(address: string): string {
  return boundedKey('address:', address);
}

// Keys must fit the database column; an over-long value (a client's invented user name) is hashed instead.
function boundedKey(prefix: string, value: string): string {
  const key = `${prefix}${value}`;
  if (key.length <= MAX_KEY_LENGTH) return key;
  return `${prefix}sha256:${createHash('sha256').update(value, 'utf8').digest('hex')}`;
}

/** The throttle policy over the shared store. */
export class LoginThrottle {
  constructor(
    private readonly store: ThrottleStore,
    private readonly policy: ThrottlePolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether an attempt on all of `keys` may proceed now; otherwise the longest wait among them. */
  async check(keys: readonly string[]): Promise<ThrottleCheck> {
    const now = this.now();
    const states = await Promise.all(keys.map((key) => this.store.get(key)));
    const waitS = Math.max(0, ...states.map((state) => throttleWaitS(state, now, this.policy)));
    return waitS > 0 ? { allowed: false, retryAfterS: waitS } : { allowed: true };
  }

  /** Counts one failure against every key. */
  async fail(keys: readonly string[]): Promise<void> {
    const now = this.now();
    await Promise.all(
      keys.map(async (key) => {
        const failures = Math.min(currentFailures(await this.store.get(key), now) + 1, MAX_COUNTED_FAILURES);
        await this.store.put(key, { failures, lastFailureAt: new Date(now) });
      }),
    );
  }

  /** Forgets an account's failures after a successful login (its address keeps its count). */
  async succeed(accountKey: string): Promise<void> {
    await this.store.reset(accountKey);
  }
}
