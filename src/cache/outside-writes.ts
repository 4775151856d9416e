import IORedis from 'ioredis';
import type { Config } from '../config/schema.js';
import { clientOptions } from '../redis/connection.js';
import { describeRedisEndpoint, redisEndpointFrom } from '../redis/endpoint.js';

/**
 * The invalidation group that means "everything": a write made outside every serving process (the admin
 * CLI) does not know which cached groups it touched, so it asks each process to drop its whole cache, as a
 * Redis reconnection does. No real group is named `*` (they are `repository:<id>` and `permissions`).
 */
export const EVERY_GROUP = '*';

/** The pub/sub channel the caches listen on, under a key prefix (`quayside:` unless a test gives its own). */
export function invalidationChannel(prefix: string): string {
  return `${prefix}cache:invalidate`;
}

/** How long the announcement may take (connect and PUBLISH): a CLI never hangs on Redis. */
const ANNOUNCE_TIMEOUT_MS = 3_000;

export type AnnounceOutcome =
  /** Published; `listeners` processes (serving instances and their workers) were subscribed and got it. */
  | { kind: 'sent'; listeners: number }
  /** The configuration names no Redis: serving instances cache permission facts not at all, the rest for 3 s. */
  | { kind: 'no-redis' }
  /** Redis did not take it: the instances see the change when their entries expire (30 s). */
  | { kind: 'failed'; reason: string };

/**
 * Tells every serving instance on the configuration's Redis to drop its cache, after a change made outside
 * them (docs/redis.md, "Writes from the CLI"). Never rejects: the change is made already, whatever happens here.
 */
export async function announceOutsideWrite(config: Config, options: { prefix?: string; timeoutMs?: number } = {}): Promise<AnnounceOutcome> {
  const endpoint = redisEndpointFrom(config);
  if (endpoint === undefined) return { kind: 'no-redis' };
  const timeoutMs = options.timeoutMs ?? ANNOUNCE_TIMEOUT_MS;
  // One attempt, queued until connected, bounded as a whole: unlike serving, this has nothing to fall back on.
  const client = new IORedis.default({ ...clientOptions(endpoint), enableOfflineQueue: true, retryStrategy: () => null, connectTimeout: timeoutMs, commandTimeout: timeoutMs });
  client.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const listeners = await Promise.race([client.publish(invalidationChannel(options.prefix ?? 'quayside:'), EVERY_GROUP), timedOut]);
    return { kind: 'sent', listeners };
  } catch (error) {
    return { kind: 'failed', reason: `${describeRedisEndpoint(endpoint)}: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    clearTimeout(timer);
    client.disconnect(false);
  }
}
