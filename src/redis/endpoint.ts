import type { Config, RedisEndpointConfig } from '../config/schema.js';

/**
 * The one Redis endpoint Quayside talks to: the data model cache's primary when DATA_MODEL_CACHE_CONFIG says
 * `engine: redis`, else USER_EVENTS_REDIS (Quay's pub/sub endpoint), else BUILDLOGS_REDIS (where Quay counts
 * pull metrics by default). None of them: undefined, and every cache and counter stays in process.
 */
export function redisEndpointFrom(config: Config): RedisEndpointConfig | undefined {
  const cache = config.DATA_MODEL_CACHE_CONFIG;
  if (cache.engine === 'redis') return cache.redis_config.primary;
  return config.USER_EVENTS_REDIS ?? config.BUILDLOGS_REDIS;
}

/** host:port as logs and errors name an endpoint (never its password). */
export function describeRedisEndpoint(endpoint: RedisEndpointConfig): string {
  const host = endpoint.host.includes(':') && !endpoint.host.startsWith('[') ? `[${endpoint.host}]` : endpoint.host;
  return `${endpoint.ssl ? 'rediss' : 'redis'}://${host}:${endpoint.port}/${endpoint.db}`;
}
