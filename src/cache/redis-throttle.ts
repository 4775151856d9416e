import type { ThrottleState, ThrottleStore } from '../db/account-metadata.js';
import type { RedisConnection } from '../redis/connection.js';

/** Counters expire after this (FAILURE_DECAY_MS of src/auth/throttle.ts is 15 min; old ones count as none). */
const KEY_TTL_MS = 16 * 60 * 1000;

const encode = (state: ThrottleState) => `${state.failures}:${state.lastFailureAt.getTime()}`;
function decode(value: string | null): ThrottleState | undefined {
  if (value === null) return undefined;
  const [failures, at] = value.split(':').map(Number);
  return { failures: failures ?? 0, lastFailureAt: new Date(at ?? 0) };
}

// Compare-and-set and decrement as scripts: one atomic step on the Redis side, as the SQL statements are.
const REPLACE = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0`;
const DECREMENT = `local v = redis.call('GET', KEYS[1]) if not v then return 0 end
local n, at = string.match(v, '^(%d+):(%d+)$') if n and tonumber(n) > 0 then redis.call('SET', KEYS[1], (tonumber(n) - 1) .. ':' .. at, 'KEEPTTL') end return 1`;

/** The login throttle's counters in Redis: a login costs no database write. */
export class RedisThrottleStore implements ThrottleStore {
  constructor(private readonly redis: RedisConnection, private readonly prefix: string) {}

  private key(key: string): string {
    return `${this.prefix}${key}`;
  }

  async get(key: string): Promise<ThrottleState | undefined> {
    return decode(await this.redis.client.get(this.key(key)));
  }

  async put(key: string, state: ThrottleState): Promise<void> {
    await this.redis.client.set(this.key(key), encode(state), 'PX', KEY_TTL_MS);
  }

  async create(key: string, state: ThrottleState): Promise<boolean> {
    return (await this.redis.client.set(this.key(key), encode(state), 'PX', KEY_TTL_MS, 'NX')) === 'OK';
  }

  async replace(key: string, expected: ThrottleState, next: ThrottleState): Promise<boolean> {
    return (await this.redis.client.eval(REPLACE, 1, this.key(key), encode(expected), encode(next), KEY_TTL_MS)) === 1;
  }

  async decrement(key: string): Promise<void> {
    await this.redis.client.eval(DECREMENT, 1, this.key(key));
  }

  async reset(key: string): Promise<void> {
    await this.redis.client.del(this.key(key));
  }

  /** Redis expires its keys itself. */
  async deleteBefore(): Promise<number> {
    return 0;
  }
}

/**
 * Redis while it is up, the database otherwise (and for any command Redis fails): a login never fails for
 * Redis. Counts taken in one store are not seen by the other, so a switch gives a client at most one more
 * round of free attempts.
 */
export function fallbackThrottleStore(redis: RedisConnection, redisStore: ThrottleStore, database: ThrottleStore): ThrottleStore {
  const either = <A extends unknown[], R>(call: (store: ThrottleStore, ...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
    if (redis.isUp()) {
      try {
        return await call(redisStore, ...args);
      } catch {
        // Timed out or lost mid-command: the database answers instead.
      }
    }
    return call(database, ...args);
  };
  return {
    get: either((s, key: string) => s.get(key)),
    put: either((s, key: string, state: ThrottleState) => s.put(key, state)),
    create: either((s, key: string, state: ThrottleState) => s.create(key, state)),
    replace: either((s, key: string, expected: ThrottleState, next: ThrottleState) => s.replace(key, expected, next)),
    decrement: either((s, key: string) => s.decrement(key)),
    reset: either((s, key: string) => s.reset(key)),
    // The database's rows are swept whatever Redis does.
    deleteBefore: (before) => database.deleteBefore(before),
  };
}
