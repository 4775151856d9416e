import { Counter, Gauge, Histogram } from 'prom-client';
import type { MetricsRegistry } from './registry.js';

const QUERY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30];

export interface PoolCounts {
  total: number;
  idle: number;
  waiting: number;
}

/** The database side of /metrics: query latency and failures, and the pool's connections. */
export class DatabaseMetrics {
  private readonly latency: Histogram;
  private readonly failures: Counter;
  private pool: (() => PoolCounts) | undefined;

  constructor(registry: MetricsRegistry) {
    const registers = [registry];
    this.latency = new Histogram({ name: 'quayside_db_query_duration_seconds', help: 'Duration of each database query.', buckets: QUERY_BUCKETS, registers });
    this.failures = new Counter({ name: 'quayside_db_query_failures_total', help: 'Database queries that failed.', registers });
    const stat = (name: string, help: string, pick: (counts: PoolCounts) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect: () => {
          const counts = this.pool?.();
          gauges.get(name)?.set(counts === undefined ? 0 : pick(counts));
        },
      });
    const gauges = new Map<string, Gauge>();
    for (const [name, help, pick] of [
      ['quayside_db_pool_connections', 'Open connections of the database pool (0 for SQLite, which has none).', (c: PoolCounts) => c.total],
      ['quayside_db_pool_idle_connections', 'Open, unused connections of the database pool.', (c: PoolCounts) => c.idle],
      ['quayside_db_pool_waiting_requests', 'Queries waiting for a pooled connection.', (c: PoolCounts) => c.waiting],
    ] as const) {
      gauges.set(name, stat(name, help, pick));
    }
  }

  /** The pool to report on (set once the database is open). */
  watchPool(counts: () => PoolCounts): void {
    this.pool = counts;
  }

  /** A QueryObserver (src/db/database.ts). */
  readonly onQuery = (durationMs: number, failed: boolean): void => {
    this.latency.observe(durationMs / 1000);
    if (failed) this.failures.inc();
  };
}
