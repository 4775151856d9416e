import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/database.js';
import { KyselyPullStatistics, type PullStatisticsStore } from '../db/pull-statistics.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import { openRedisConnection, type RedisConnection } from '../redis/connection.js';
import { PullStatistics } from './pull-recorder.js';

export interface OpenedPullStatistics {
  statistics: PullStatistics;
  /** The database side, for the API's pull_statistics endpoints. */
  store: PullStatisticsStore;
  flushIntervalMs: number;
  /** Closes the Redis connection opened for PULL_METRICS_REDIS, if any (after the last flush). */
  close(): Promise<void>;
}

/**
 * Pull statistics as config.yaml asks for them: off with FEATURE_IMAGE_PULL_STATS false; counted in
 * PULL_METRICS_REDIS when set (a connection of its own), else in the Redis the cache uses, else in memory.
 */
export function openPullStatistics(
  config: Config,
  database: Database,
  deps: { logger: Logger; metrics?: MetricsRegistry; sharedRedis?: RedisConnection },
): OpenedPullStatistics | undefined {
  if (!config.FEATURE_IMAGE_PULL_STATS) return undefined;
  const own = config.PULL_METRICS_REDIS === undefined ? undefined : openRedisConnection(config.PULL_METRICS_REDIS, { logger: deps.logger });
  const store = new KyselyPullStatistics(database);
  const flushIntervalMs = config.REDIS_FLUSH_INTERVAL_SECONDS * 1000;
  const redis = own ?? deps.sharedRedis;
  const statistics = new PullStatistics({ store, log: deps.logger, flushIntervalMs, metrics: deps.metrics, ...(redis && { redis }) });
  return { statistics, store, flushIntervalMs, close: async () => own?.close() };
}
