import { Registry } from 'prom-client';

/**
 * The one Prometheus registry of a serving process. `quayside serve` creates it and hands it to every part
 * that counts something (createApp's `metrics`, the cache, the PROXY listener); a part registers its own
 * metrics in it and never in prom-client's global registry, so tests can build several apps in one process.
 */
export type MetricsRegistry = Registry;

export function createMetricsRegistry(): MetricsRegistry {
  return new Registry();
}
