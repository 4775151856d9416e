import { Counter, Gauge } from 'prom-client';
import type { ReplicationQueueStats } from '../db/replication-jobs.js';
import type { DistributedStoreObserver } from '../storage/distributed.js';
import type { MetricsRegistry } from './registry.js';

/**
 * Geo-replication's metrics (docs/metrics.md): the queue (read from the shared database when scraped, so every
 * instance reports the same figures: over worker processes, the highest), the copies this process made, and the
 * reads each location served or failed.
 */
export interface GeoReplicationMetrics {
  store: DistributedStoreObserver;
  /** What src/workers/replication.ts reports (its ReplicationObserver; strings here, so metrics needs no workers import). */
  worker: {
    jobFinished(outcome: string, location: string): void;
    bytesCopied(bytes: number, location: string, mode: string): void;
  };
}

export function geoReplicationMetricsIn(
  registry: MetricsRegistry,
  queueStats: () => Promise<ReplicationQueueStats>,
  now: () => number = Date.now,
): GeoReplicationMetrics {
  const registers = [registry];
  // One database query per scrape feeds the three queue gauges.
  let pending: Promise<ReplicationQueueStats | undefined> | undefined;
  const stats = () => {
    pending ??= queueStats()
      .catch(() => undefined)
      .finally(() => setImmediate(() => (pending = undefined)));
    return pending;
  };
  new Gauge({
    name: 'quayside_replication_queue_jobs',
    help: 'Replication jobs in the shared queue, by state (queued includes leased)',
    labelNames: ['state'],
    registers,
    aggregator: 'max',
    async collect() {
      const current = await stats();
      if (current === undefined) return;
      this.set({ state: 'queued' }, current.queued);
      this.set({ state: 'leased' }, current.leased);
      this.set({ state: 'failed' }, current.failed);
    },
  });
  new Gauge({
    name: 'quayside_replication_lag_seconds',
    help: 'Age of the oldest queued replication job (0 when the queue is empty)',
    registers,
    aggregator: 'max',
    async collect() {
      const current = await stats();
      if (current === undefined) return;
      this.set(current.oldestQueuedAt === undefined ? 0 : Math.max(0, (now() - current.oldestQueuedAt) / 1000));
    },
  });
  const bytes = new Counter({ name: 'quayside_replication_bytes_copied_total', help: 'Bytes copied into a location by replication', labelNames: ['location', 'mode'], registers });
  const jobs = new Counter({ name: 'quayside_replication_jobs_total', help: 'Replication job attempts, by target location and outcome', labelNames: ['location', 'outcome'], registers });
  const reads = new Counter({ name: 'quayside_storage_reads_total', help: 'Blob reads, by the location that served them', labelNames: ['location'], registers });
  const fallbacks = new Counter({
    name: 'quayside_storage_fallback_reads_total',
    help: 'Reads that a location failed (error or no answer in time) and the next location holding the blob took over',
    labelNames: ['location'],
    registers,
  });
  return {
    store: {
      served: (location) => reads.inc({ location }),
      fallback: (location) => fallbacks.inc({ location }),
    },
    worker: {
      jobFinished: (outcome, location) => jobs.inc({ location, outcome }),
      bytesCopied: (count, location, mode) => bytes.inc({ location, mode }, count),
    },
  };
}
