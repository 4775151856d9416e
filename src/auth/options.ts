import type { Config } from '../config/schema.js';
import { DEFAULT_TAG_EXPIRATION_SETTINGS, tagExpirationFrom, type TagExpirationSettings } from '../gc/tag-expiration.js';

/** The auth layer's settings, mapped from config.yaml by the composition root (see authOptionsFrom). */
export interface AuthOptions {
  /** SERVER_HOSTNAME: the token's audience and the challenge's service; undefined: the request's Host. */
  serverHostname?: string;
  /** PREFERRED_URL_SCHEME, for the realm URL of the challenge. */
  urlScheme: 'http' | 'https';
  /** SUPER_USERS (usernames). */
  superUsers: ReadonlySet<string>;
  /** FEATURE_SUPER_USERS: whether superusers exist at all (SUPER_USERS and those set from the CLI). */
  superUsersEnabled: boolean;
  /** FEATURE_ANONYMOUS_ACCESS: anonymous pulls of public repositories. */
  anonymousAccess: boolean;
  /** CREATE_PRIVATE_REPO_ON_PUSH: repositories created by a push are private (else public). */
  createPrivateRepoOnPush: boolean;
  /** CREATE_NAMESPACE_ON_PUSH: a user's push to a namespace that does not exist creates that organization. */
  createNamespaceOnPush: boolean;
  /** FEATURE_APP_SPECIFIC_TOKENS. */
  appSpecificTokens: boolean;
  /** FEATURE_USER_CREATION: POST /api/v1/user/ may create accounts (superusers always may). */
  userCreation: boolean;
  /** Lifetime of registry tokens issued by /v2/auth, seconds. */
  tokenLifetimeS: number;
  /** Clock difference tolerated between instances when checking iat/nbf/exp, seconds. */
  clockSkewS: number;
  /** INSTANCE_SERVICE_KEY_EXPIRATION: how long a signing key is accepted, seconds. */
  keyExpirationS: number;
  /** INSTANCE_SERVICE_KEY_REFRESH: how often an instance makes a new signing key, seconds. */
  keyRefreshS: number;
  /** Failed logins of one account or one address before each further attempt must wait. */
  loginFreeAttempts: number;
  /** Longest wait imposed between attempts, seconds. */
  loginMaxDelayS: number;
  /** API session lifetime, seconds. */
  sessionLifetimeS: number;
  /** SESSION_COOKIE_SECURE. */
  sessionCookieSecure: boolean;
  /** Tag expiries and namespace windows (FEATURE_CHANGE_TAG_EXPIRATION, TAG_EXPIRATION_OPTIONS, ...). */
  tagExpiration: TagExpirationSettings;
}

/** Whether a user is a superuser: listed in SUPER_USERS or flagged from the CLI, while FEATURE_SUPER_USERS is on. */
export function isSuperuser(
  options: Pick<AuthOptions, 'superUsers'> & { superUsersEnabled?: boolean },
  user: { name: string; superuser: boolean },
): boolean {
  if (options.superUsersEnabled === false) return false;
  return options.superUsers.has(user.name) || user.superuser;
}

/** Maps config.yaml onto AuthOptions. */
export function authOptionsFrom(config: Config): AuthOptions {
  return {
    serverHostname: config.SERVER_HOSTNAME,
    urlScheme: config.PREFERRED_URL_SCHEME,
    superUsers: new Set(config.FEATURE_SUPER_USERS ? config.SUPER_USERS : []),
    superUsersEnabled: config.FEATURE_SUPER_USERS,
    anonymousAccess: config.FEATURE_ANONYMOUS_ACCESS,
    createPrivateRepoOnPush: config.CREATE_PRIVATE_REPO_ON_PUSH,
    createNamespaceOnPush: config.CREATE_NAMESPACE_ON_PUSH,
    appSpecificTokens: config.FEATURE_APP_SPECIFIC_TOKENS,
    userCreation: config.FEATURE_USER_CREATION,
    tokenLifetimeS: config.REGISTRY_TOKEN_LIFETIME_S,
    clockSkewS: config.REGISTRY_TOKEN_CLOCK_SKEW_S,
    keyExpirationS: config.INSTANCE_SERVICE_KEY_EXPIRATION * 60,
    keyRefreshS: config.INSTANCE_SERVICE_KEY_REFRESH * 60,
    loginFreeAttempts: config.LOGIN_FREE_ATTEMPTS,
    loginMaxDelayS: config.LOGIN_MAX_DELAY_S,
    sessionLifetimeS: config.SESSION_LIFETIME_S,
    sessionCookieSecure: config.SESSION_COOKIE_SECURE,
    tagExpiration: tagExpirationFrom(config),
  };
}

/** Defaults for tests and for code that builds the auth layer without a config file. */
export function defaultAuthOptions(overrides: Partial<AuthOptions> = {}): AuthOptions {
  return {
    urlScheme: 'http',
    superUsers: new Set(),
    superUsersEnabled: true,
    anonymousAccess: true,
    createPrivateRepoOnPush: true,
    createNamespaceOnPush: false,
    appSpecificTokens: true,
    userCreation: true,
    tokenLifetimeS: 3600,
    clockSkewS: 60,
    keyExpirationS: 120 * 60,
    keyRefreshS: 55 * 60,
    loginFreeAttempts: 5,
    loginMaxDelayS: 60,
    sessionLifetimeS: 12 * 3600,
    sessionCookieSecure: false,
    tagExpiration: DEFAULT_TAG_EXPIRATION_SETTINGS,
    ...overrides,
  };
}
