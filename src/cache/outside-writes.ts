import IORedis from 'ioredis';
import type { Config } from '../config/schema.js';
import { clientOptions } from '../redis/connection.js';
import { describeRedisEndpoint, redisEndpointFrom } from '../redis/endpoint.js';
import { EVERY_GROUP, invalidationChannel } from './invalidation-bus.js';

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
export async function announceOutsideWrite(config: Config): Promise<AnnounceOutcome> {
  const endpoint = redisEndpointFrom(config);
  if (endpoint === undefined) return { kind: 'no-redis' };
  // One attempt, queued until connected; ioredis bounds it: a refused or timed-out connection ends the client
  // (no retries), which fails the queued PUBLISH, and a connected Redis that does not answer times it out.
  const client = new IORedis.default({ ...clientOptions(endpoint), enableOfflineQueue: true, retryStrategy: () => null, connectTimeout: ANNOUNCE_TIMEOUT_MS, commandTimeout: ANNOUNCE_TIMEOUT_MS });
  client.on('error', () => undefined);
  try {
    return { kind: 'sent', listeners: await client.publish(invalidationChannel(), EVERY_GROUP) };
  } catch (error) {
    return { kind: 'failed', reason: `${describeRedisEndpoint(endpoint)}: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    client.disconnect(false);
  }
}
