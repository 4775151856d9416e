import { Counter, Histogram } from 'prom-client';
import type { MetricsRegistry } from '../metrics/registry.js';

/** What garbage collection counts; registered once per registry (a serving process has one). */
export interface GcMetrics {
  passes: Counter;
  manifests: Counter;
  blobs: Counter;
  bytes: Counter;
  duration: Histogram;
}

const byRegistry = new WeakMap<MetricsRegistry, GcMetrics>();

export function gcMetricsIn(registry: MetricsRegistry): GcMetrics {
  const known = byRegistry.get(registry);
  if (known) return known;
  const registers = [registry];
  const metrics: GcMetrics = {
    passes: new Counter({ name: 'quayside_gc_passes_total', help: 'Garbage collection passes finished', registers }),
    manifests: new Counter({ name: 'quayside_gc_manifests_deleted_total', help: 'Manifests deleted by garbage collection', registers }),
    blobs: new Counter({ name: 'quayside_gc_blobs_deleted_total', help: 'Blobs deleted from storage by garbage collection', registers }),
    bytes: new Counter({ name: 'quayside_gc_bytes_freed_total', help: 'Bytes of blobs deleted by garbage collection', registers }),
    duration: new Histogram({
      name: 'quayside_gc_pass_duration_seconds',
      help: 'Duration of a garbage collection pass',
      buckets: [0.01, 0.1, 1, 10, 60, 600],
      registers,
    }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
