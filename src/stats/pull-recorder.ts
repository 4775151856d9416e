import { Counter } from 'prom-client';
import type { PullBatch, PullStatisticsStore } from '../db/pull-statistics.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import type { RedisConnection } from '../redis/connection.js';
import { PendingPulls, type PulledManifest } from './pending-pulls.js';
import { RedisPulls } from './redis-pulls.js';

/** What the pull path calls: never waits, never throws, never touches the database. */
export interface PullRecorder {
  tagPulled(repositoryId: number, tag: string, manifest: PulledManifest): void;
  digestPulled(manifest: PulledManifest): void;
}

export interface PullStatisticsLog {
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

export interface PullStatisticsOptions {
  store: PullStatisticsStore;
  log: PullStatisticsLog;
  /** Counts move here every second while it is up (shared by every instance); they stay in memory otherwise. */
  redis?: RedisConnection;
  /** Prefix of the Redis keys (default quayside:). */
  keyPrefix?: string;
  /** REDIS_FLUSH_INTERVAL_SECONDS, in ms: how often src/workers/pull-statistics-flush.ts flushes. */
  flushIntervalMs: number;
  /** Distinct tags and manifests held in memory at most; beyond, pulls go uncounted (with one log line). */
  maxPendingEntries?: number;
  now?: () => number;
  metrics?: MetricsRegistry;
}

const DEFAULT_MAX_PENDING_ENTRIES = 100_000;

/**
 * Pull statistics (docs/redis.md): a pull adds to a counter in this process's memory; every second the counts
 * move to Redis (where every instance's meet) while it is up, and a periodic flush writes the sums to the
 * database in one transaction per batch. A pull therefore costs neither a database write nor a Redis call;
 * the statistics lag by at most one flush interval.
 */
export class PullStatistics implements PullRecorder {
  private readonly pending = new PendingPulls();
  private readonly redisPulls: RedisPulls | undefined;
  private readonly now: () => number;
  private readonly maxPending: number;
  private overflowLogged = false;
  private readonly counted: Counter | undefined;
  private readonly flushed: Counter | undefined;

  constructor(private readonly options: PullStatisticsOptions) {
    this.now = options.now ?? Date.now;
    this.maxPending = options.maxPendingEntries ?? DEFAULT_MAX_PENDING_ENTRIES;
    this.redisPulls =
      options.redis === undefined
        ? undefined
        : new RedisPulls(options.redis.client, { prefix: options.keyPrefix ?? 'quayside:', staleAfterMs: Math.max(10 * options.flushIntervalMs, 300_000), now: this.now });
    const registers = options.metrics === undefined ? undefined : [options.metrics];
    this.counted = registers && new Counter({ name: 'quayside_pulls_counted_total', help: 'Manifest pulls counted for pull statistics', registers });
    this.flushed = registers && new Counter({ name: 'quayside_pull_statistics_flushed_total', help: 'Pulls written to the database by the pull-statistics flush', registers });
  }

  tagPulled(repositoryId: number, tag: string, manifest: PulledManifest): void {
    this.count(manifest, { repositoryId, name: tag });
  }

  digestPulled(manifest: PulledManifest): void {
    this.count(manifest);
  }

  private count(manifest: PulledManifest, tag?: { repositoryId: number; name: string }): void {
    if (this.pending.size >= this.maxPending) {
      if (!this.overflowLogged) this.options.log.warn({ entries: this.pending.size }, 'pull statistics: too many distinct pulls waiting to be written; pulls go uncounted until a flush succeeds');
      this.overflowLogged = true;
      return;
    }
    this.counted?.inc();
    const at = this.now();
    if (tag === undefined) this.pending.addManifestPull(manifest.id, at);
    else this.pending.addTagPull(tag.repositoryId, tag.name, manifest, at);
  }

  /**
   * Moves what this process counted to Redis, where every instance's counts meet (called every second while
   * serving); never rejects: when Redis refuses, the counts stay here and the flush writes them itself.
   */
  async spill(): Promise<void> {
    if (this.redisPulls === undefined || this.options.redis?.isUp() !== true || this.pending.size === 0) return;
    const batch = this.pending.take();
    try {
      await this.redisPulls.add(batch);
    } catch {
      this.pending.restore(batch);
    }
  }

  /** Writes what was counted (here, and in Redis) to the database; rejects when a write was refused. */
  async flush(): Promise<void> {
    let failure: unknown;
    const viaRedis = this.redisPulls !== undefined && this.options.redis?.isUp() === true;
    if (viaRedis) await this.spill();
    // What is still here (no Redis, Redis down, or a spill it refused) goes to the database directly.
    const batch = this.pending.take();
    try {
      await this.write(batch);
      this.overflowLogged = false;
    } catch (error) {
      this.pending.restore(batch);
      failure = error;
    }
    if (viaRedis && this.redisPulls !== undefined) {
      try {
        // (Not inside `this.flushed?.inc(...)`: without metrics the optional call would skip the flush itself.)
        const written = await this.redisPulls.flush((b) => this.options.store.add(b));
        this.flushed?.inc(written);
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }

  private async write(batch: PullBatch): Promise<void> {
    if (batch.manifests.length === 0 && batch.tags.length === 0) return;
    await this.options.store.add(batch);
    this.flushed?.inc(batch.manifests.reduce((sum, m) => sum + m.count, 0));
  }

  /** Writes what is left (call before the database closes); never rejects. */
  async close(): Promise<void> {
    await this.flush().catch((error: unknown) => this.options.log.error({ err: error }, 'pull statistics: last flush failed'));
  }
}
