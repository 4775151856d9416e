import type { AuditPerformer } from '../db/account-metadata.js';

/**
 * Who a request acts as. Built by the authenticator from credentials (password, app token, robot token,
 * session) or rebuilt from a verified registry token's claims, so that /v2 never needs the database to know
 * who is calling.
 */
export type Identity = AnonymousIdentity | UserIdentity | RobotIdentity;

export interface AnonymousIdentity {
  kind: 'anonymous';
}

export interface UserIdentity {
  kind: 'user';
  id: number;
  name: string;
  /** Named in SUPER_USERS: administers every namespace and repository. */
  superuser: boolean;
  /** Set when the credentials were an app-specific token (audit metadata). */
  appTokenId?: string;
}

export interface RobotIdentity {
  kind: 'robot';
  id: number;
  /** Full name, "acme+ci". */
  name: string;
  ownerId: number;
  /** The namespace the robot belongs to ("acme"). */
  ownerName: string;
}

export const ANONYMOUS: AnonymousIdentity = Object.freeze({ kind: 'anonymous' });

/** The performer column of an audit row. */
export function performerOf(identity: Identity): AuditPerformer | null {
  if (identity.kind === 'anonymous') return null;
  return { id: identity.id, name: identity.name, kind: identity.kind };
}

/** Registry token actions on a repository, as docker and podman request them. `*` is everything (admin). */
export type RepositoryAction = 'pull' | 'push' | 'delete' | '*';
export const REPOSITORY_ACTIONS: readonly RepositoryAction[] = ['pull', 'push', 'delete', '*'];

/** One entry of a registry token's `access` claim (and of a parsed `scope` parameter). */
export interface AccessEntry {
  /** "repository" or "registry" (for registry:catalog:*). */
  type: string;
  name: string;
  actions: string[];
}
