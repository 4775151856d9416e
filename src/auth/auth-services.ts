import type { AuditLog } from '../audit/audit-log.js';
import type { AccountMetadata } from '../db/account-metadata.js';
import type { Metadata } from '../db/metadata.js';
import type { PullStatisticsStore } from '../db/pull-statistics.js';
import { AuthenticatorService } from './authenticator.js';
import { KeyRing } from './keys.js';
import type { AuthOptions } from './options.js';
import { PolicyService } from './policy.js';
import { RepositoryCreatorService } from './repository-creator.js';
import type { Authenticator, AuthServices } from './services.js';
import { LoginThrottle } from './throttle.js';
import { countingLogins } from './login-metrics.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import { TokenService } from './tokens.js';

/** The process logger as the auth layer uses it (a pino logger fits). */
export interface AuthLog {
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

export interface AuthServicesDeps {
  accounts: AccountMetadata;
  metadata: Metadata;
  options: AuthOptions;
  audit: AuditLog;
  log: AuthLog;
  /** Milliseconds since the epoch; tests inject a clock. */
  now?: () => number;
  /** Where login outcomes are counted (src/auth/login-metrics.ts); none: not counted. */
  metrics?: MetricsRegistry;
  /** Pull statistics for the API to read (FEATURE_IMAGE_PULL_STATS); none: off. */
  pullStatistics?: PullStatisticsStore;
}

/** AuthServices with the key ring's lifecycle: start() before the first token is issued, stop() on shutdown. */
export interface RunningAuthServices extends AuthServices {
  keys: KeyRing;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Builds the auth layer once per process (the composition root calls it). */
export function buildAuthServices(deps: AuthServicesDeps): RunningAuthServices {
  const { accounts, metadata, options, audit, log } = deps;
  const now = deps.now ?? Date.now;
  const keys = new KeyRing(accounts.serviceKeys, { keyExpirationS: options.keyExpirationS, keyRefreshS: options.keyRefreshS, log, now });
  const tokens = new TokenService(keys, { tokenLifetimeS: options.tokenLifetimeS, clockSkewS: options.clockSkewS, now });
  const policy = new PolicyService(accounts, metadata, options);
  const counted = (authenticator: Authenticator) => (deps.metrics === undefined ? authenticator : countingLogins(authenticator, deps.metrics));
  const throttle = new LoginThrottle(accounts.throttle, { freeAttempts: options.loginFreeAttempts, maxDelayS: options.loginMaxDelayS }, now);
  return {
    accounts,
    metadata,
    options,
    audit,
    authenticator: counted(new AuthenticatorService(accounts, throttle, audit, log, {
      superUsers: options.superUsers,
      superUsersEnabled: options.superUsersEnabled,
      appSpecificTokens: options.appSpecificTokens,
      now,
    })),
    policy,
    creator: new RepositoryCreatorService(accounts, metadata, policy, audit, options),
    issuer: tokens,
    verifier: tokens,
    keys,
    ...(deps.pullStatistics && { pullStatistics: deps.pullStatistics }),
    now,
    start: () => keys.start(),
    stop: () => keys.stop(),
  };
}
