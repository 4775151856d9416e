import type { AccountMetadata, RepositoryRole } from '../db/account-metadata.js';
import type { Metadata, RepositoryRecord } from '../db/metadata.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { PullStatisticsStore } from '../db/pull-statistics.js';
import type { AccessEntry, Identity, RepositoryAction } from './identity.js';
import type { AuthOptions } from './options.js';

/**
 * The auth layer's small interfaces, as the /v2 API, /v2/auth, /api/v1 and the CLI use them. The
 * implementations live next to this file (authenticator.ts, policy.ts, repository-creator.ts, tokens.ts,
 * keys.ts) and are built once in the composition root (buildAuthServices in auth-services.ts).
 */

/** The outcome of checking credentials. Failures carry a message safe to show the client. */
export type LoginResult =
  | { ok: true; identity: Identity }
  | { ok: false; reason: 'invalid' | 'disabled' | 'throttled'; message: string; retryAfterS?: number };

export interface Authenticator {
  /**
   * Checks Basic credentials: a user's password, `$app` (or the user's own name) with an app-specific token,
   * or a robot's name with its token. Throttles repeated failures per account and per address, and writes
   * login_success / login_failure audit rows.
   */
  login(username: string, secret: string, clientAddress: string): Promise<LoginResult>;
  /** Checks an app-specific token presented alone (the API's `Authorization: Bearer`). */
  loginWithAppToken(token: string, clientAddress: string): Promise<LoginResult>;
  /**
   * Checks that `password` is the user's own password (never a token), under the same throttle as a login,
   * before a change that needs it (a new password). Writes no login audit row: the caller audits its change.
   */
  confirmPassword(username: string, password: string, clientAddress: string): Promise<LoginResult>;
}

export interface AccessPolicy {
  /** The identity's role on an existing repository (public repositories give read), or undefined. */
  repositoryRole(identity: Identity, repository: RepositoryRecord): Promise<RepositoryRole | undefined>;
  /**
   * Which of `requested` the identity may do on the repository `name`. When the repository does not exist,
   * push (and pull, push alike) is granted to those who may create repositories in its namespace.
   */
  allowedActions(identity: Identity, name: string, requested: readonly RepositoryAction[]): Promise<RepositoryAction[]>;
  /** Whether the identity may create repositories in the namespace (own user namespace, org admin or creator). */
  canCreateIn(identity: Identity, namespace: string): Promise<boolean>;
  /** Whether the identity administers the namespace: its own user, an admin team of the org, or a superuser. */
  administersNamespace(identity: Identity, namespace: string): Promise<boolean>;
}

export interface RepositoryCreator {
  /**
   * Returns the repository, creating it when missing with Quay's rules: visibility (explicit, else
   * CREATE_PRIVATE_REPO_ON_PUSH), the creator's admin permission, the organization's prototypes, the
   * namespace organization when CREATE_NAMESPACE_ON_PUSH allows; a create_repo audit row. The caller has
   * already checked that the identity may create it.
   */
  ensure(
    identity: Identity,
    name: string,
    options: { visibility?: 'public' | 'private'; clientAddress: string },
  ): Promise<RepositoryRecord>;
}

/** A registry token that passed every check (signature, key expiry, audience, issuer, times). */
export interface VerifiedToken {
  identity: Identity;
  access: AccessEntry[];
  expiresAt: Date;
}

/** Why a token was refused; `message` is safe to show the client. */
export class TokenError extends Error {
  constructor(
    readonly reason: 'malformed' | 'signature' | 'unknown-key' | 'expired-key' | 'expired' | 'not-yet-valid' | 'audience' | 'issuer',
    message: string,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  issuedAt: Date;
}

export interface TokenIssuer {
  /** Signs a token for the identity with exactly these access entries (already reduced by the policy). */
  issue(identity: Identity, access: AccessEntry[], audience: string): Promise<IssuedToken>;
}

export interface TokenVerifier {
  /** Throws TokenError. Verifies with keys published by any instance. */
  verify(token: string, audience: string): Promise<VerifiedToken>;
}

/** Everything auth-related the HTTP layers and the CLI use, built once per process. */
export interface AuthServices {
  accounts: AccountMetadata;
  metadata: Metadata;
  options: AuthOptions;
  authenticator: Authenticator;
  policy: AccessPolicy;
  creator: RepositoryCreator;
  issuer: TokenIssuer;
  verifier: TokenVerifier;
  audit: AuditLog;
  /** Pull statistics as written so far (FEATURE_IMAGE_PULL_STATS); none: the feature is off. */
  pullStatistics?: PullStatisticsStore;
  /** Milliseconds since the epoch: the clock tag expiries are judged by (the metadata's; tests inject one). */
  now?: () => number;
}
