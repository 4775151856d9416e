import { Counter, Gauge, Registry } from 'prom-client';
import type { ServiceStatus } from './status.js';

/** The load balancer's Prometheus metrics, in their own registry (no global default registry). */
export class LbMetrics {
  readonly registry = new Registry();
  readonly reloads: Counter<'reason'>;
  readonly reloadFailures: Counter;
  readonly runtimeUpdates: Counter<'kind'>;
  readonly invalidConfigs: Counter;
  readonly backendsUp: Gauge<'service'>;
  readonly backendsDown: Gauge<'service'>;
  readonly lastReloadTimestamp: Gauge;

  constructor() {
    const registers = [this.registry];
    this.reloads = new Counter({
      name: 'quayside_lb_reloads_total',
      help: 'HAProxy reloads confirmed through the master socket, by the kind of change that caused them.',
      labelNames: ['reason'],
      registers,
    });
    this.reloadFailures = new Counter({
      name: 'quayside_lb_reload_failures_total',
      help: 'HAProxy reloads that failed or could not be confirmed (the previous worker kept serving).',
      registers,
    });
    this.runtimeUpdates = new Counter({
      name: 'quayside_lb_runtime_updates_total',
      help: 'Changes applied through the runtime API without a reload, by kind.',
      labelNames: ['kind'],
      registers,
    });
    this.invalidConfigs = new Counter({
      name: 'quayside_lb_invalid_configs_total',
      help: 'Candidate models or configurations rejected (source error or haproxy -c failure).',
      registers,
    });
    this.backendsUp = new Gauge({
      name: 'quayside_lb_backends_up',
      help: 'Backends of a service that HAProxy reports UP, from show stat.',
      labelNames: ['service'],
      registers,
    });
    this.backendsDown = new Gauge({
      name: 'quayside_lb_backends_down',
      help: 'Backends of a service that HAProxy reports DOWN or in maintenance, from show stat.',
      labelNames: ['service'],
      registers,
    });
    this.lastReloadTimestamp = new Gauge({
      name: 'quayside_lb_last_reload_timestamp_seconds',
      help: 'Unix time of the last confirmed HAProxy reload.',
      registers,
    });
  }

  /** Sets the per-service gauges from a fresh status; services that disappeared are dropped. */
  updateBackends(services: readonly ServiceStatus[]): void {
    this.backendsUp.reset();
    this.backendsDown.reset();
    for (const s of services) {
      this.backendsUp.set({ service: s.name }, s.backendsUp);
      this.backendsDown.set({ service: s.name }, s.backendsDown);
    }
  }

  /** Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
