import type { AccountMetadata, RepositoryRole, TeamRole } from '../db/account-metadata.js';
import type { Metadata, RepositoryRecord } from '../db/metadata.js';
import { namespaceOf } from '../db/repositories.js';
import { repositoryNameProblem } from '../oci/names.js';
import type { Identity, RepositoryAction } from './identity.js';
import { namespaceNameProblem } from './names.js';
import type { AccessPolicy } from './services.js';

/**
 * Quay's permission model:
 * - a superuser (SUPER_USERS) administers every repository;
 * - a user administers the repositories of the namespace named after it;
 * - a member of an organization team whose role is admin administers every repository of the organization;
 * - a direct grant, or a grant to a team the account is in, gives that role;
 * - a public repository gives everyone at least read, anonymous callers only with FEATURE_ANONYMOUS_ACCESS;
 * - robots get nothing by ownership, only through grants and teams.
 * A repository that does not exist yet may be pushed (pulled, deleted: every action, as by the admin it is
 * about to have) by those who may create repositories in its namespace.
 */

/** The actions each role allows, as registry token actions. */
export const ROLE_ACTIONS: Readonly<Record<RepositoryRole, readonly RepositoryAction[]>> = {
  read: ['pull'],
  write: ['pull', 'push', 'delete'],
  admin: ['pull', 'push', 'delete', '*'],
};

const ROLE_RANK: Readonly<Record<RepositoryRole, number>> = { read: 1, write: 2, admin: 3 };

/** The strongest of the roles, or undefined when there is none. */
export function strongestRole(roles: readonly RepositoryRole[]): RepositoryRole | undefined {
  let best: RepositoryRole | undefined;
  for (const role of roles) if (best === undefined || ROLE_RANK[role] > ROLE_RANK[best]) best = role;
  return best;
}

/** What decideRole needs to know about one identity and one repository. */
export interface RoleInputs {
  identity: Identity;
  namespace: string;
  visibility: 'public' | 'private';
  /** Roles granted on the repository to the account directly and to its teams. */
  repositoryRoles: readonly RepositoryRole[];
  /** The account's team roles in the namespace organization. */
  teamRoles: readonly TeamRole[];
  /** FEATURE_ANONYMOUS_ACCESS. */
  anonymousAccess: boolean;
}

/** The identity's role on a repository, by the rules above; pure. */
export function decideRole(inputs: RoleInputs): RepositoryRole | undefined {
  const { identity } = inputs;
  const publicRole: RepositoryRole | undefined = inputs.visibility === 'public' ? 'read' : undefined;
  if (identity.kind === 'anonymous') return inputs.anonymousAccess ? publicRole : undefined;
  if (identity.kind === 'user' && (identity.superuser || identity.name === inputs.namespace)) return 'admin';
  if (inputs.teamRoles.includes('admin')) return 'admin';
  return strongestRole([...inputs.repositoryRoles, ...(publicRole === undefined ? [] : [publicRole])]);
}

/** The requested actions a role allows, in the order requested. */
export function actionsForRole(role: RepositoryRole | undefined, requested: readonly RepositoryAction[]): RepositoryAction[] {
  if (role === undefined) return [];
  const allowed = ROLE_ACTIONS[role];
  return requested.filter((action, index) => allowed.includes(action) && requested.indexOf(action) === index);
}

export interface PolicyOptions {
  anonymousAccess: boolean;
  createNamespaceOnPush: boolean;
}

/** AccessPolicy over the accounts and repositories in the database. */
export class PolicyService implements AccessPolicy {
  constructor(
    private readonly accounts: AccountMetadata,
    private readonly metadata: Metadata,
    private readonly options: PolicyOptions,
  ) {}

  async repositoryRole(identity: Identity, repository: RepositoryRecord): Promise<RepositoryRole | undefined> {
    const base = { identity, namespace: repository.namespace, visibility: repository.visibility, anonymousAccess: this.options.anonymousAccess };
    // Anonymous callers, superusers and namespace owners are decided without a query.
    if (identity.kind === 'anonymous' || (identity.kind === 'user' && (identity.superuser || identity.name === repository.namespace))) {
      return decideRole({ ...base, repositoryRoles: [], teamRoles: [] });
    }
    const facts = await this.accounts.permissions.accessFacts(identity.id, repository.namespace, repository.id);
    return decideRole({ ...base, repositoryRoles: facts.repositoryRoles, teamRoles: facts.teamRoles });
  }

  async allowedActions(identity: Identity, name: string, requested: readonly RepositoryAction[]): Promise<RepositoryAction[]> {
    if (requested.length === 0 || repositoryNameProblem(name) !== undefined) return [];
    const repository = await this.metadata.repositories.getRepository(name);
    if (repository !== undefined) return actionsForRole(await this.repositoryRole(identity, repository), requested);
    return (await this.canCreateIn(identity, namespaceOf(name))) ? actionsForRole('admin', requested) : [];
  }

  async canCreateIn(identity: Identity, namespace: string): Promise<boolean> {
    if (identity.kind === 'anonymous' || namespaceNameProblem(namespace) !== undefined) return false;
    const account = await this.accounts.accounts.getAccount(namespace);
    if (account === undefined) {
      // CREATE_NAMESPACE_ON_PUSH: the pusher becomes the owner of a new organization; robots own nothing.
      return this.options.createNamespaceOnPush && identity.kind === 'user';
    }
    if (identity.kind === 'user' && identity.superuser) return true;
    if (account.kind === 'user') return identity.kind === 'user' && identity.name === namespace;
    if (account.kind !== 'organization') return false;
    const facts = await this.accounts.permissions.accessFacts(identity.id, namespace, undefined);
    return facts.teamRoles.includes('admin') || facts.teamRoles.includes('creator');
  }

  async administersNamespace(identity: Identity, namespace: string): Promise<boolean> {
    if (identity.kind === 'anonymous') return false;
    if (identity.kind === 'user' && (identity.superuser || identity.name === namespace)) return true;
    if (namespaceNameProblem(namespace) !== undefined) return false;
    const facts = await this.accounts.permissions.accessFacts(identity.id, namespace, undefined);
    return facts.teamRoles.includes('admin');
  }
}
