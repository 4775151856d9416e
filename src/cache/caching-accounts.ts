import type { AccountMetadata, AccountStore, PermissionStore, TeamStore } from '../db/account-metadata.js';
import type { CachedLookups } from './cached-lookups.js';

/**
 * Every permission fact is one group, as every repository lookup is: grants, teams and memberships change
 * rarely, and one change (a team removed, an account deleted) may touch the facts of many accounts and
 * repositories at once, which one group drops without having to know which.
 */
export const PERMISSIONS_GROUP = 'permissions';

/**
 * The access policy's one database question (src/auth/policy.ts: an account's grants on a repository and its
 * team roles in the namespace organization) answered from memory, only while invalidations arrive (Redis up
 * and subscribed, as for repository lookups): a permission removed, a member taken out of a team, a robot
 * deleted on another instance must count on the next request when no message could say so. Every write that
 * can change a fact (grants, teams, memberships, account creation and deletion, whose ids a database may give
 * out again) invalidates the group here, in the sibling workers and on every instance. Facts are never an
 * absence that grants anything: an empty answer only ever denies.
 */
export function cachingAccounts(inner: AccountMetadata, lookups: CachedLookups): AccountMetadata {
  const { cached, writing } = lookups;
  const changes = <T>(write: () => Promise<T>) => writing([PERMISSIONS_GROUP], write);

  const p = inner.permissions;
  const permissions: PermissionStore = {
    setPermission: (repositoryId, delegate, role) => changes(() => p.setPermission(repositoryId, delegate, role)),
    deletePermission: (repositoryId, delegate) => changes(() => p.deletePermission(repositoryId, delegate)),
    listPermissions: (repositoryId) => p.listPermissions(repositoryId),
    listAccountPermissions: (accountId) => p.listAccountPermissions(accountId),
    accessFacts: (accountId, namespace, repositoryId) =>
      cached('permission', `facts:${accountId}:${repositoryId ?? ''}:${namespace}`, PERMISSIONS_GROUP, () => p.accessFacts(accountId, namespace, repositoryId), {
        onlyWhileListening: true,
      }),
    listVisibleRepositories: (viewer, filter) => p.listVisibleRepositories(viewer, filter),
    // Prototypes only shape repositories created later (through setPermission).
    addPrototype: (organizationId, delegate, role) => p.addPrototype(organizationId, delegate, role),
    listPrototypes: (organizationId) => p.listPrototypes(organizationId),
    setPrototypeRole: (organizationId, id, role) => p.setPrototypeRole(organizationId, id, role),
    deletePrototype: (organizationId, id) => p.deletePrototype(organizationId, id),
  };

  const t = inner.teams;
  const teams: TeamStore = {
    // A team's role is one of the facts (an admin team administers the whole organization).
    upsertTeam: (organizationId, name, role, description) => changes(() => t.upsertTeam(organizationId, name, role, description)),
    getTeam: (organizationId, name) => t.getTeam(organizationId, name),
    listTeams: (organizationId) => t.listTeams(organizationId),
    deleteTeam: (teamId) => changes(() => t.deleteTeam(teamId)),
    addMember: (teamId, accountId) => changes(() => t.addMember(teamId, accountId)),
    removeMember: (teamId, accountId) => changes(() => t.removeMember(teamId, accountId)),
    listMembers: (teamId) => t.listMembers(teamId),
    teamsOf: (organizationId, accountId) => t.teamsOf(organizationId, accountId),
    organizationMembers: (organizationId) => t.organizationMembers(organizationId),
    organizationsOf: (accountId) => t.organizationsOf(accountId),
  };

  const a = inner.accounts;
  const accounts: AccountStore = {
    getAccount: (name) => a.getAccount(name),
    getAccountById: (id) => a.getAccountById(id),
    getSecrets: (id) => a.getSecrets(id),
    // A new account may get the id of a deleted one (SQLite reuses the highest), or be a new organization
    // whose owners team holds its creator: either changes facts keyed by id or namespace.
    createUser: (user) => changes(() => a.createUser(user)),
    createOrganization: (org) => changes(() => a.createOrganization(org)),
    createRobot: (robot) => changes(() => a.createRobot(robot)),
    listRobots: (ownerId) => a.listRobots(ownerId),
    setPasswordHash: (userId, hash) => a.setPasswordHash(userId, hash),
    setRobotTokenHash: (robotId, hash) => a.setRobotTokenHash(robotId, hash),
    setEmail: (id, email) => a.setEmail(id, email),
    setEnabled: (id, enabled) => a.setEnabled(id, enabled),
    setSuperuser: (userId, superuser) => a.setSuperuser(userId, superuser),
    getTagExpiration: (id) => a.getTagExpiration(id),
    setTagExpiration: (id, seconds) => a.setTagExpiration(id, seconds),
    // Its grants, memberships, robots and teams go with it.
    deleteAccount: (id) => changes(() => a.deleteAccount(id)),
    listAccounts: (page, kind) => a.listAccounts(page, kind),
  };

  return { ...inner, accounts, teams, permissions };
}
