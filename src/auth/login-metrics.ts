import { Counter } from 'prom-client';
import type { MetricsRegistry } from '../metrics/registry.js';
import type { Authenticator, LoginResult } from './services.js';

/**
 * Counts what logins end in: quayside_login_failures_total (label reason: invalid, disabled) and
 * quayside_logins_throttled_total (refused by the throttle before any secret was checked).
 */
export function countingLogins(inner: Authenticator, metrics: MetricsRegistry): Authenticator {
  const failures = new Counter({ name: 'quayside_login_failures_total', help: 'Logins refused for a wrong or disabled credential', labelNames: ['reason'], registers: [metrics] });
  const throttled = new Counter({ name: 'quayside_logins_throttled_total', help: 'Logins refused by the login throttle', registers: [metrics] });
  const count = (result: LoginResult): LoginResult => {
    if (!result.ok) {
      if (result.reason === 'throttled') throttled.inc();
      else failures.inc({ reason: result.reason });
    }
    return result;
  };
  return {
    login: async (username, secret, clientAddress) => count(await inner.login(username, secret, clientAddress)),
    loginWithAppToken: async (token, clientAddress) => count(await inner.loginWithAppToken(token, clientAddress)),
    confirmPassword: async (username, password, clientAddress) => count(await inner.confirmPassword(username, password, clientAddress)),
  };
}
