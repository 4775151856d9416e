import { Counter } from 'prom-client';
import type { LoginResult } from '../auth/services.js';
import type { MetricsRegistry } from './registry.js';

/** Logins on /metrics: failures by reason, and the ones the throttle refused. */
export class LoginMetrics {
  private readonly failures: Counter<'reason'>;
  private readonly throttled: Counter;

  constructor(registry: MetricsRegistry) {
    const registers = [registry];
    this.failures = new Counter({
      name: 'quayside_login_failures_total',
      help: 'Logins refused for wrong credentials (invalid) or a disabled account (disabled); throttled ones are counted apart.',
      labelNames: ['reason'],
      registers,
    });
    this.throttled = new Counter({ name: 'quayside_logins_throttled_total', help: 'Logins refused by the throttle after repeated failures (429).', registers });
  }

  /** An AuthServicesDeps.observeLogin. */
  readonly observe = (result: LoginResult): void => {
    if (result.ok) return;
    if (result.reason === 'throttled') this.throttled.inc();
    else this.failures.inc({ reason: result.reason });
  };
}
