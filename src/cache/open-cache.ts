import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Metadata } from '../db/metadata.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import { openRedisConnection, type RedisConnection } from '../redis/connection.js';
import { redisEndpointFrom } from '../redis/endpoint.js';
import { cachingAccounts } from './caching-accounts.js';
import { cachingMetadata } from './caching-metadata.js';
import { cachedLookups, type CacheTtls, type CachingDeps } from './cached-lookups.js';
import { DEFAULT_KEY_PREFIX, EVERY_GROUP, invalidationChannel, redisInvalidationBus } from './invalidation-bus.js';
import { LocalCache } from './local-cache.js';
import { fallbackThrottleStore, RedisThrottleStore } from './redis-throttle.js';
import type { AccountMetadata, ThrottleStore } from '../db/account-metadata.js';

const MAX_ENTRIES = 50_000;

export interface OpenedCache {
  /** `metadata` decorated (or as given with DATA_MODEL_CACHE_CONFIG engine: none). */
  metadata: Metadata;
  /** The Redis connection when one is configured (for /health/endtoend). */
  redis?: RedisConnection;
  /** The login throttle's store: in Redis while it is up, else `database` (the same store without Redis). */
  throttle(database: ThrottleStore): ThrottleStore;
  /** `accounts` with its permission facts in the same cache (src/cache/caching-accounts.ts), or as given. */
  accounts(accounts: AccountMetadata): AccountMetadata;
  close(): Promise<void>;
}

export interface OpenCacheDeps {
  logger: Logger;
  metrics?: MetricsRegistry;
  /** Prefix of the pub/sub channel and of every Redis key (tests use one of their own); default quayside: */
  keyPrefix?: string;
  ttls?: CacheTtls;
  /** The other worker processes of this instance (src/cluster/sibling-invalidation.ts), when there are some. */
  siblings?: { publish(groups: readonly string[]): Promise<void>; subscribe(onInvalidate: (group: string) => void): () => void };
}

/**
 * The cache as config.yaml asks for it: no Redis key, an in-process cache with short entries; a Redis
 * endpoint, the same cache with invalidations over pub/sub. Nothing here waits for Redis.
 */
export function openCache(config: Config, metadata: Metadata, deps: OpenCacheDeps): OpenedCache {
  const endpoint = redisEndpointFrom(config);
  const redis = endpoint === undefined ? undefined : openRedisConnection(endpoint, deps);
  const prefix = deps.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const throttle = (database: ThrottleStore) =>
    redis === undefined ? database : fallbackThrottleStore(redis, new RedisThrottleStore(redis, `${prefix}throttle:`), database);
  if (config.DATA_MODEL_CACHE_CONFIG.engine === 'none') {
    return { metadata, redis, throttle, accounts: (accounts) => accounts, close: async () => redis?.close() };
  }
  const cache = new LocalCache({ maxEntries: MAX_ENTRIES });
  // Sibling workers hear every write at once, whether or not Redis carries it to other instances too.
  const stopHearingSiblings = deps.siblings?.subscribe((group) => cache.invalidate(group));
  const siblings = deps.siblings;
  // Awaited by every write before it is answered (cached-lookups.ts, `writing`); nothing to wait for without siblings.
  const reachSiblings = siblings === undefined ? undefined : (groups: readonly string[]) => siblings.publish(groups);
  // One set of lookups (and of hit/miss counters) for the metadata and the accounts.
  const decorate = (caching: CachingDeps) => {
    const lookups = cachedLookups(caching);
    return { metadata: cachingMetadata(metadata, caching, lookups), accounts: (accounts: AccountMetadata) => cachingAccounts(accounts, lookups) };
  };
  if (redis === undefined) {
    const decorated = decorate({
      cache,
      listening: () => false,
      invalidate: (group) => cache.invalidate(group),
      reachSiblings,
      ttls: deps.ttls,
      metrics: deps.metrics,
    });
    return { ...decorated, throttle, close: async () => stopHearingSiblings?.() };
  }
  const bus = redisInvalidationBus({
    publisher: redis.client,
    subscriber: redis.duplicate(),
    channel: invalidationChannel(prefix),
    // A write from outside the serving processes (the CLI) names no group: everything goes, as on a gap.
    onInvalidate: (group) => (group === EVERY_GROUP ? cache.clear() : cache.invalidate(group)),
    onGap: () => cache.clear(),
    logger: deps.logger,
  });
  // Entries cached while subscribed live long; once the subscription is gone they may miss an invalidation.
  redis.onStateChange((up) => {
    if (!up) cache.clear();
  });
  const decorated = decorate({
    cache,
    listening: () => bus.listening() && redis.isUp(),
    invalidate: (group) => {
      cache.invalidate(group);
      bus.publish(group);
    },
    reachSiblings,
    ttls: deps.ttls,
    metrics: deps.metrics,
  });
  return {
    ...decorated,
    redis,
    throttle,
    close: async () => {
      stopHearingSiblings?.();
      await bus.close();
      await redis.close();
    },
  };
}
