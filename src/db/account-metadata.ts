/**
 * The accounts side of the metadata contract: Quay's tenancy model (users, organizations, teams, robots,
 * app tokens, repository permissions and their prototypes), the token signing keys every instance
 * publishes, the audit log, login throttling and API sessions. One implementation
 * (src/db/kysely-accounts.ts) serves SQLite, PostgreSQL and MySQL/MariaDB.
 *
 * Secrets never reach the database in clear: passwords are bcrypt hashes, robot and app tokens and
 * session ids are stored as the hex SHA-256 of the token (they are long random strings, so a fast hash
 * is enough and lets a login find the row by its hash).
 */

import type { NamespaceLocationStore } from './namespace-locations.js';

/** Users log in, organizations own repositories through teams, robots are an org's or a user's machine accounts. */
export type AccountKind = 'user' | 'organization' | 'robot';
/** What an account or team may do with one repository, weakest first. */
export type RepositoryRole = 'read' | 'write' | 'admin';
/** A team's role in its organization: admin administers everything, creator may create repositories. */
export type TeamRole = 'member' | 'creator' | 'admin';

export const REPOSITORY_ROLES: readonly RepositoryRole[] = ['read', 'write', 'admin'];
export const TEAM_ROLES: readonly TeamRole[] = ['member', 'creator', 'admin'];

export interface AccountRecord {
  id: number;
  /** Users and organizations: the namespace name ("alice", "acme"). Robots: "acme+ci" or "alice+deploy". */
  name: string;
  kind: AccountKind;
  email: string | null;
  enabled: boolean;
  /** Robots only: the id of the user or organization that owns it. */
  ownerId: number | null;
  description: string | null;
  createdAt: Date;
  /** Users only: made a superuser from the CLI (SUPER_USERS lists others; either makes one). */
  superuser: boolean;
}

/** The secrets a login checks; only AccountStore.getSecrets returns them. */
export interface AccountSecrets {
  /** Users: bcrypt hash, or null when the user cannot log in with a password. */
  passwordHash: string | null;
  /** Robots: hex SHA-256 of the current token. */
  tokenHash: string | null;
}

export interface NewUser {
  name: string;
  email: string | null;
  passwordHash: string | null;
}

export interface NewOrganization {
  name: string;
  email: string | null;
  /** The user who becomes the first member of the organization's "owners" team (role admin). */
  ownerId: number;
}

export interface NewRobot {
  /** The user or organization the robot belongs to. */
  ownerId: number;
  /** The full name, "<owner name>+<short name>". */
  name: string;
  description: string | null;
  tokenHash: string;
}

/** A name (of an account, team, ...) that already exists; the API answers 400/409, the CLI one line. */
export class NameTakenError extends Error {
  constructor(
    readonly what: string,
    readonly takenName: string,
  ) {
    super(`${what} ${JSON.stringify(takenName)} already exists`);
    this.name = 'NameTakenError';
  }
}

/** A delete that would orphan data (a namespace that still has repositories). */
export class StillInUseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StillInUseError';
  }
}

export interface AccountPage {
  /** Names strictly after this one. */
  last?: string;
  limit: number;
}

export interface AccountStore {
  getAccount(name: string): Promise<AccountRecord | undefined>;
  getAccountById(id: number): Promise<AccountRecord | undefined>;
  getSecrets(id: number): Promise<AccountSecrets | undefined>;
  /** Throws NameTakenError when any account (user, org or robot) has the name. */
  createUser(user: NewUser): Promise<AccountRecord>;
  /** Creates the organization and its "owners" team (role admin) with the owner in it, in one transaction. */
  createOrganization(org: NewOrganization): Promise<AccountRecord>;
  /** Throws NameTakenError. */
  createRobot(robot: NewRobot): Promise<AccountRecord>;
  /** Robots of a user or organization, by name. */
  listRobots(ownerId: number): Promise<AccountRecord[]>;
  setPasswordHash(userId: number, passwordHash: string): Promise<void>;
  setRobotTokenHash(robotId: number, tokenHash: string): Promise<void>;
  setEmail(id: number, email: string | null): Promise<void>;
  setEnabled(id: number, enabled: boolean): Promise<void>;
  /** The stored superuser flag of a user (honoured in addition to SUPER_USERS). */
  setSuperuser(userId: number, superuser: boolean): Promise<void>;
  /**
   * The time machine window of a user's or organization's namespace in seconds (Quay's removed_tag_expiration_s);
   * null when never set (DEFAULT_TAG_EXPIRATION applies) or when there is no such user or organization.
   */
  getTagExpiration(id: number): Promise<number | null>;
  /** Sets (seconds) or resets to DEFAULT_TAG_EXPIRATION (null) the namespace's window; users and organizations only. */
  setTagExpiration(id: number, seconds: number | null): Promise<void>;
  /**
   * Deletes a user, organization or robot with everything that hangs off it (robots, teams, memberships,
   * permissions, app tokens, sessions). Throws StillInUseError when a user or organization still owns
   * repositories (they must be deleted first). False when there was no such account.
   */
  deleteAccount(id: number): Promise<boolean>;
  /** Users or organizations (or both when kind is omitted) in name order; robots are listed per owner. */
  listAccounts(page: AccountPage, kind?: 'user' | 'organization'): Promise<AccountRecord[]>;
}

export interface TeamRecord {
  id: number;
  organizationId: number;
  name: string;
  role: TeamRole;
  description: string | null;
  createdAt: Date;
}

export interface TeamStore {
  /** Creates the team or updates its role and description; returns it. */
  upsertTeam(organizationId: number, name: string, role: TeamRole, description: string | null): Promise<TeamRecord>;
  getTeam(organizationId: number, name: string): Promise<TeamRecord | undefined>;
  listTeams(organizationId: number): Promise<TeamRecord[]>;
  /** False when there was no such team. */
  deleteTeam(teamId: number): Promise<boolean>;
  /** Idempotent. Members are users or robots. */
  addMember(teamId: number, accountId: number): Promise<void>;
  /** False when the account was not a member. */
  removeMember(teamId: number, accountId: number): Promise<boolean>;
  listMembers(teamId: number): Promise<AccountRecord[]>;
  /** The teams of one organization that the account belongs to. */
  teamsOf(organizationId: number, accountId: number): Promise<TeamRecord[]>;
  /** Every user and robot in any team of the organization, by name. */
  organizationMembers(organizationId: number): Promise<AccountRecord[]>;
  /** The organizations the account is in (through any team), by name, each with the roles of its teams there. */
  organizationsOf(accountId: number): Promise<Array<{ organization: AccountRecord; roles: TeamRole[] }>>;
}

/** Who a repository permission or a prototype is for. */
export type Delegate = { kind: 'account'; id: number } | { kind: 'team'; id: number };

export interface PermissionRecord {
  repositoryId: number;
  delegate: Delegate;
  /** The account's or team's name. */
  delegateName: string;
  /** For account delegates: user or robot. */
  accountKind: AccountKind | null;
  role: RepositoryRole;
}

/** A role granted directly to one account on one repository. */
export interface AccountPermissionRecord {
  repositoryId: number;
  /** The repository's full name, namespace/name. */
  repositoryName: string;
  isPublic: boolean;
  role: RepositoryRole;
}

export interface PrototypeRecord {
  /** Stable public id (Quay calls it the prototype's uuid). */
  id: string;
  organizationId: number;
  delegate: Delegate;
  delegateName: string;
  role: RepositoryRole;
  createdAt: Date;
}

/** What the database knows about one account's standing towards one repository (see src/auth/policy.ts). */
export interface AccessFacts {
  /** Roles granted on the repository directly to the account and to every team it is in. */
  repositoryRoles: RepositoryRole[];
  /** Roles of the teams the account is in within the namespace organization (empty for user namespaces). */
  teamRoles: TeamRole[];
}

/** Whose view of the repository list a query takes. */
export interface Viewer {
  /** Undefined: anonymous. */
  accountId?: number;
  /** Superusers see everything. */
  superuser: boolean;
  /** Whether public repositories are part of the view. */
  includePublic: boolean;
}

export interface RepositoryListFilter {
  /** Only repositories of this namespace. */
  namespace?: string;
  /** Names strictly after this one. */
  last?: string;
  limit: number;
}

export interface PermissionStore {
  /** Creates or changes the delegate's role on the repository. */
  setPermission(repositoryId: number, delegate: Delegate, role: RepositoryRole): Promise<void>;
  /** False when there was none. */
  deletePermission(repositoryId: number, delegate: Delegate): Promise<boolean>;
  listPermissions(repositoryId: number): Promise<PermissionRecord[]>;
  /** The roles granted directly to the account (not through a team), by repository name. */
  listAccountPermissions(accountId: number): Promise<AccountPermissionRecord[]>;
  /**
   * The facts the access policy needs, in as few queries as possible: the account's direct and team roles
   * on the repository (when it exists) and its team roles in the organization named `namespace` (when the
   * namespace is an organization).
   */
  accessFacts(accountId: number, namespace: string, repositoryId: number | undefined): Promise<AccessFacts>;
  /**
   * Names of the repositories the viewer may pull, in name order: public ones (when included), every
   * repository of the viewer's own namespace, of organizations where the viewer is in an admin team, and
   * those granted to the viewer or its teams.
   */
  listVisibleRepositories(viewer: Viewer, filter: RepositoryListFilter): Promise<string[]>;
  addPrototype(organizationId: number, delegate: Delegate, role: RepositoryRole): Promise<PrototypeRecord>;
  listPrototypes(organizationId: number): Promise<PrototypeRecord[]>;
  /** False when there was none with that id in the organization. */
  deletePrototype(organizationId: number, id: string): Promise<boolean>;
  /** Changes a prototype's role in place; undefined when there was none with that id in the organization. */
  setPrototypeRole(organizationId: number, id: string, role: RepositoryRole): Promise<PrototypeRecord | undefined>;
}

export interface AppTokenRecord {
  /** Stable public id (Quay's uuid of the token). */
  id: string;
  accountId: number;
  title: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

export interface AppTokenStore {
  create(accountId: number, title: string, tokenHash: string, expiresAt: Date | null): Promise<AppTokenRecord>;
  /** The token whose hash this is (expired ones included: the caller decides), with its owner. */
  findByHash(tokenHash: string): Promise<{ token: AppTokenRecord; account: AccountRecord } | undefined>;
  list(accountId: number): Promise<AppTokenRecord[]>;
  /** One token of the account; undefined when the account has no token with that id. */
  get(accountId: number, id: string): Promise<AppTokenRecord | undefined>;
  /** False when the account has no token with that id. */
  revoke(accountId: number, id: string): Promise<boolean>;
  /** Records a use; a failure here must not fail the login, so callers may ignore its promise's errors. */
  touch(id: string): Promise<void>;
}

export interface ServiceKeyRecord {
  /** Key id, the JWT header's `kid`. */
  kid: string;
  /** SPKI PEM of the public key. */
  publicKeyPem: string;
  /** Which instance made it (host name and process id), for operators. */
  createdBy: string;
  createdAt: Date;
  /** Tokens signed by this key are refused after this time. */
  expiresAt: Date;
}

export interface ServiceKeyStore {
  publish(key: ServiceKeyRecord): Promise<void>;
  get(kid: string): Promise<ServiceKeyRecord | undefined>;
  /** Keys not yet expired, newest first. */
  listActive(now: Date): Promise<ServiceKeyRecord[]>;
  /** Removes keys that expired before `before`; returns how many. */
  deleteExpired(before: Date): Promise<number>;
}

export interface AuditPerformer {
  /** Undefined for anonymous requests. */
  id?: number;
  name: string;
  kind: AccountKind | 'anonymous';
}

/** One audit log row as written. Kinds are Quay's (push_repo, pull_repo, login_success, ...). */
export interface AuditEvent {
  kind: string;
  performer: AuditPerformer | null;
  namespace: string | null;
  repository: string | null;
  at: Date;
  /** The real client address (PROXY protocol or trusted X-Forwarded-For when present). */
  clientAddress: string | null;
  metadata: Record<string, unknown>;
}

export interface AuditRecord extends AuditEvent {
  id: number;
}

export interface AuditFilter {
  namespace?: string;
  /** Full repository name; implies its namespace. */
  repository?: string;
  performer?: string;
  kinds?: string[];
  /** Inclusive lower bound. */
  since?: Date;
  /** Exclusive upper bound. */
  until?: Date;
}

export interface AuditStore {
  append(events: readonly AuditEvent[]): Promise<void>;
  /** Newest first; `before` is the id of the last entry of the previous page. */
  query(filter: AuditFilter, page: { limit: number; before?: number }): Promise<AuditRecord[]>;
}

export interface ThrottleState {
  /** Consecutive failures counted so far (a success resets them; old ones decay, see src/auth/throttle.ts). */
  failures: number;
  lastFailureAt: Date;
}

/** Failed logins per key ("account:alice", "address:203.0.113.9"), shared by every instance. */
export interface ThrottleStore {
  get(key: string): Promise<ThrottleState | undefined>;
  /** Sets the state (upsert), whatever the key held. */
  put(key: string, state: ThrottleState): Promise<void>;
  /** Creates the key with `state`; false when it already exists (another attempt created it first). */
  create(key: string, state: ThrottleState): Promise<boolean>;
  /** Sets `next` only while the key still holds exactly `expected` (compare-and-set); false when it moved on. */
  replace(key: string, expected: ThrottleState, next: ThrottleState): Promise<boolean>;
  /** Takes back one counted attempt, never below zero. */
  decrement(key: string): Promise<void>;
  reset(key: string): Promise<void>;
  /** Removes keys whose last failure is older than `before` (they count as no failures anyway); returns how many. */
  deleteBefore(before: Date): Promise<number>;
}

export interface SessionRecord {
  accountId: number;
  createdAt: Date;
  expiresAt: Date;
}

/** API sessions (POST /api/v1/signin); the id itself only lives in the client's cookie. */
export interface SessionStore {
  create(idHash: string, accountId: number, expiresAt: Date): Promise<void>;
  get(idHash: string): Promise<SessionRecord | undefined>;
  delete(idHash: string): Promise<void>;
  /** Ends every session of the account (its password changed, or it was disabled); returns how many. */
  deleteForAccount(accountId: number): Promise<number>;
  deleteExpired(before: Date): Promise<number>;
}

/** Everything the auth layer, the API and the CLI need from the database. */
export interface AccountMetadata {
  readonly accounts: AccountStore;
  readonly teams: TeamStore;
  readonly permissions: PermissionStore;
  readonly appTokens: AppTokenStore;
  readonly serviceKeys: ServiceKeyStore;
  readonly audit: AuditStore;
  readonly throttle: ThrottleStore;
  readonly sessions: SessionStore;
  /** A namespace's own storage locations (Quay's UserRegion; geo-replication). */
  readonly namespaceLocations: NamespaceLocationStore;
}
