import { createHash } from 'node:crypto';
import type { ThrottleState, ThrottleStore } from '../db/account-metadata.js';

/**
 * Login throttling per key ("account:<name>", "address:<ip>"), shared by every instance through the
 * database. After `freeAttempts` consecutive failures, each further attempt must wait 2^(failures - free)
 * seconds (at most maxDelayS) after the last failure; a key whose last failure is older than
 * FAILURE_DECAY_MS starts again from zero. Attempts refused by the throttle do not count as failures, so a
 * client that keeps knocking is not locked out for longer than the delay itself.
 *
 * An attempt is reserved (counted as a failure) before the secret is checked, with a compare-and-set on
 * the key's row, so N parallel wrong secrets on any number of instances are evaluated at most as often as
 * the policy allows; the reservation is given back when the secret turns out right.
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

/** The attempts one login holds on its keys, from reserve() until the outcome is known. */
export interface ThrottleReservation {
  readonly held: readonly HeldAttempt[];
}

interface HeldAttempt {
  key: string;
  /** The key's state before this attempt (undefined: the key did not exist). */
  previous: ThrottleState | undefined;
  /** The state this attempt wrote. */
  reserved: ThrottleState;
}

export type ThrottleReserve = { allowed: true; reservation: ThrottleReservation } | { allowed: false; retryAfterS: number };

/** Compare-and-set rounds one key may lose to concurrent attempts before this one gives up (refused). */
const MAX_RACES = 200;
/** A state equivalent to "no failures" (long decayed), written when an attempt gives back a key it created. */
const NO_FAILURES: ThrottleState = { failures: 0, lastFailureAt: new Date(0) };

/** The throttle policy over the shared store. */
export class LoginThrottle {
  constructor(
    private readonly store: ThrottleStore,
    private readonly policy: ThrottlePolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether an attempt on all of `keys` would be allowed now (a read only: it reserves nothing). */
  async check(keys: readonly string[]): Promise<ThrottleCheck> {
    const now = this.now();
    const states = await Promise.all(keys.map((key) => this.store.get(key)));
    const waitS = Math.max(0, ...states.map((state) => throttleWaitS(state, now, this.policy)));
    return waitS > 0 ? { allowed: false, retryAfterS: waitS } : { allowed: true };
  }

  /**
   * Takes one attempt on every key BEFORE the secret is checked: the attempt counts as a failure at once,
   * by compare-and-set on the shared row, so parallel attempts (on any instance) cannot all pass the gate
   * while none of them has failed yet. Refused when any key must wait; keys already taken are given back.
   * The caller settles the reservation: nothing more for a wrong secret, succeed() or release() otherwise.
   */
  async reserve(keys: readonly string[]): Promise<ThrottleReserve> {
    const now = this.now();
    const held: HeldAttempt[] = [];
    for (const key of keys) {
      const taken = await this.reserveKey(key, now);
      if (!taken.allowed) {
        await this.giveBack(held);
        return taken;
      }
      held.push(taken.attempt);
    }
    return { allowed: true, reservation: { held } };
  }

  /** A successful login: forgets the account's failures and gives the other keys their attempt back. */
  async succeed(reservation: ThrottleReservation, accountKey: string | undefined): Promise<void> {
    if (accountKey !== undefined) await this.store.reset(accountKey);
    await this.giveBack(reservation.held.filter((attempt) => attempt.key !== accountKey));
  }

  /** An attempt that must not count (the right secret of a disabled account, an internal error). */
  async release(reservation: ThrottleReservation): Promise<void> {
    await this.giveBack(reservation.held);
  }

  private async reserveKey(key: string, now: number): Promise<{ allowed: true; attempt: HeldAttempt } | { allowed: false; retryAfterS: number }> {
    for (let race = 0; race < MAX_RACES; race++) {
      const previous = await this.store.get(key);
      const waitS = throttleWaitS(previous, now, this.policy);
      if (waitS > 0) return { allowed: false, retryAfterS: waitS };
      const failures = Math.min(currentFailures(previous, now) + 1, MAX_COUNTED_FAILURES);
      // Never move the time backwards (another instance's clock may be ahead); a changed count makes the
      // written state differ from `previous` either way.
      const lastFailureAt = new Date(Math.max(now, previous?.lastFailureAt.getTime() ?? 0));
      const reserved = { failures, lastFailureAt };
      const won = previous === undefined ? await this.store.create(key, reserved) : await this.store.replace(key, previous, reserved);
      if (won) return { allowed: true, attempt: { key, previous, reserved } };
    }
    // Hundreds of attempts on one key within one round trip: an attack, refused rather than spun on.
    return { allowed: false, retryAfterS: 1 };
  }

  /** Restores each key as it was when nothing else wrote it since; else takes back just this one attempt. */
  private async giveBack(held: readonly HeldAttempt[]): Promise<void> {
    for (const attempt of held) {
      const restored = await this.store.replace(attempt.key, attempt.reserved, attempt.previous ?? NO_FAILURES);
      if (!restored) await this.store.decrement(attempt.key);
    }
  }
}
