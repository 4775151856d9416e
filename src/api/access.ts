import type { AccountRecord, RepositoryRole, TeamRecord } from '../db/account-metadata.js';
import type { RepositoryRecord } from '../db/metadata.js';
import type { ApiContext, UserContext } from './context.js';
import { forbidden, notFound, unauthorized } from './errors.js';
import { MAX_NAME_INPUT_LENGTH } from './validation.js';

/**
 * What each /api/v1 route requires, declared in its route table (as /v2 declares its routes' access) and
 * enforced here before the handler runs. A guard that loads what it checks (the organization, the team,
 * the repository and the caller's role on it) hands it to the handler in the context.
 */

/** The access of a route registered with route(). */
export type RouteAccess =
  /** Anyone, anonymous callers included (the handler may still show them less). */
  | 'public'
  /** A signed-in user. */
  | 'user'
  /** A signed-in user whose credential is a password session, not an app-specific token. */
  | 'sessionUser'
  /** A user named in SUPER_USERS. */
  | 'superuser'
  /** An admin of the organization named by :org (its admin team, or a superuser). */
  | 'orgAdmin'
  /** A member of the team :team of the organization :org, or an admin of that organization. */
  | 'teamMember';

/** The access of an entry of the /repository/{repo}/... table: a role on the repository of the path. */
export type RepositoryAccess = 'repository:read' | 'repository:write' | 'repository:admin';

export type Access = RouteAccess | RepositoryAccess;

/** Every access level with the sentence that documents it (docs/auth.md carries the same list). */
export const ACCESS_LEVELS: Readonly<Record<Access, string>> = {
  public: 'anyone, anonymous callers included',
  user: 'a signed-in user',
  sessionUser: 'a user signed in with a password session (not an app-specific token)',
  superuser: 'a superuser (SUPER_USERS)',
  orgAdmin: 'an admin of the organization :org',
  teamMember: 'a member of the team :team of :org, or an admin of :org',
  'repository:read': 'read access to the repository (anonymous callers for public repositories)',
  'repository:write': 'a signed-in user with write access to the repository',
  'repository:admin': 'a signed-in user with admin access to the repository',
};

/** The path parameters a route must have for its access to be checked. */
export const ACCESS_PARAMETERS: Readonly<Record<RouteAccess, readonly string[]>> = {
  public: [],
  user: [],
  sessionUser: [],
  superuser: [],
  orgAdmin: ['org'],
  teamMember: ['org', 'team'],
};

/** Who may call at all, checked first (before the cross-site guard and before anything is loaded). */
const CALLER: Readonly<Record<Access, 'anyone' | 'user' | 'superuser'>> = {
  public: 'anyone',
  user: 'user',
  sessionUser: 'user',
  superuser: 'superuser',
  orgAdmin: 'user',
  teamMember: 'user',
  'repository:read': 'anyone',
  'repository:write': 'user',
  'repository:admin': 'user',
};

/** A context whose caller administers the organization of the path. */
export interface OrganizationAdminContext extends UserContext {
  org: AccountRecord;
}

/** A context whose caller may see the team of the path. */
export interface TeamContext extends UserContext {
  org: AccountRecord;
  team: TeamRecord;
  isOrgAdmin: boolean;
}

/** A context whose caller holds `role` (at least the route's) on `repository`. */
export type RepositoryContext<C extends ApiContext> = C & { repository: RepositoryRecord; role: RepositoryRole };

/** The context a handler of each access level receives. */
export interface ContextByAccess {
  public: ApiContext;
  user: UserContext;
  sessionUser: UserContext;
  superuser: UserContext;
  orgAdmin: OrganizationAdminContext;
  teamMember: TeamContext;
  'repository:read': RepositoryContext<ApiContext>;
  'repository:write': RepositoryContext<UserContext>;
  'repository:admin': RepositoryContext<UserContext>;
}

/** Narrows the context to a signed-in user, or refuses (401 anonymous). */
export function requireUser(ctx: ApiContext): UserContext {
  if (ctx.identity.kind !== 'user') throw unauthorized();
  return ctx as UserContext;
}

/** The first check of every route: is the caller someone who may call it at all? */
export function checkCaller(ctx: ApiContext, access: Access): void {
  const caller = CALLER[access];
  if (caller === 'anyone') return;
  const user = requireUser(ctx);
  if (caller === 'superuser' && !user.identity.superuser) throw forbidden('superuser access required');
}

/** The organization, or 404. */
export async function loadOrganization(ctx: ApiContext, name: string): Promise<AccountRecord> {
  const account = name.length <= 255 ? await ctx.services.accounts.accounts.getAccount(name) : undefined;
  if (account === undefined || account.kind !== 'organization') throw notFound(`organization ${JSON.stringify(name)} not found`);
  return account;
}

/** The organization, when the caller administers it (an admin team, or a superuser); else 403 (404 when missing). */
async function requireOrganizationAdmin(ctx: UserContext, name: string): Promise<AccountRecord> {
  const org = await loadOrganization(ctx, name);
  if (!(await ctx.services.policy.administersNamespace(ctx.identity, org.name))) {
    throw forbidden(`administering organization ${JSON.stringify(org.name)} requires its admin team`);
  }
  return org;
}

/** The team, or 404. */
export async function loadTeam(ctx: ApiContext, org: AccountRecord, name: string): Promise<TeamRecord> {
  const team = name.length <= MAX_NAME_INPUT_LENGTH ? await ctx.services.accounts.teams.getTeam(org.id, name) : undefined;
  if (team === undefined) throw notFound(`team ${JSON.stringify(name)} not found in organization ${JSON.stringify(org.name)}`);
  return team;
}

const ROLE_RANK: Record<RepositoryRole, number> = { read: 1, write: 2, admin: 3 };

/** Whether `role` is at least `minimum`. */
export function roleAtLeast(role: RepositoryRole | undefined, minimum: RepositoryRole): boolean {
  return role !== undefined && ROLE_RANK[role] >= ROLE_RANK[minimum];
}

/**
 * The repository, when the caller holds at least `minimum` on it. As Quay does, a caller who may not read
 * the repository cannot tell a private repository from a missing one: both are 401 (anonymous) or 403;
 * only those who administer the namespace learn that it does not exist (404).
 */
async function requireRepository(ctx: ApiContext, name: string, minimum: RepositoryRole): Promise<{ repository: RepositoryRecord; role: RepositoryRole }> {
  const refuse = () => (ctx.identity.kind === 'anonymous' ? unauthorized() : forbidden());
  const repository = await ctx.services.metadata.repositories.getRepository(name);
  if (repository === undefined) {
    const namespace = name.split('/')[0]!;
    if (ctx.identity.kind !== 'anonymous' && (await ctx.services.policy.administersNamespace(ctx.identity, namespace))) {
      throw notFound(`repository ${JSON.stringify(name)} not found`);
    }
    throw refuse();
  }
  const role = await ctx.services.policy.repositoryRole(ctx.identity, repository);
  if (!roleAtLeast(role, 'read')) throw refuse();
  if (!roleAtLeast(role, minimum)) throw forbidden(`this requires ${minimum} access to repository ${JSON.stringify(name)}`);
  return { repository, role: role! };
}

const param = (ctx: ApiContext, name: string): string => ctx.params[name] ?? '';

/** The guard of each route access level, run once the caller passed checkCaller(). */
const ROUTE_GUARDS: { [A in RouteAccess]: (ctx: ApiContext) => Promise<ContextByAccess[A]> } = {
  public: async (ctx) => ctx,
  user: async (ctx) => requireUser(ctx),
  sessionUser: async (ctx) => {
    const user = requireUser(ctx);
    // Quay asks for a fresh password login here: one leaked app token must not mint itself a successor.
    if (user.identity.appTokenId !== undefined) {
      throw forbidden('app-specific tokens are managed from a password session, not with an app-specific token');
    }
    return user;
  },
  superuser: async (ctx) => requireUser(ctx),
  orgAdmin: async (ctx) => {
    const user = requireUser(ctx);
    return { ...user, org: await requireOrganizationAdmin(user, param(ctx, 'org')) };
  },
  teamMember: async (ctx) => {
    const user = requireUser(ctx);
    const org = await loadOrganization(user, param(ctx, 'org'));
    const isOrgAdmin = await ctx.services.policy.administersNamespace(user.identity, org.name);
    const team = await loadTeam(user, org, param(ctx, 'team'));
    // Quay shows a team to its organization's admins and to the team's own members.
    if (!isOrgAdmin && !(await ctx.services.accounts.teams.teamsOf(org.id, user.identity.id)).some((t) => t.id === team.id)) {
      throw forbidden('only organization admins and team members see its members');
    }
    return { ...user, org, team, isOrgAdmin };
  },
};

/** Applies a route's declared access (after checkCaller and the cross-site guard); the handler's context. */
export function enforceRouteAccess<A extends RouteAccess>(ctx: ApiContext, access: A): Promise<ContextByAccess[A]> {
  return ROUTE_GUARDS[access](ctx);
}

const MINIMUM_ROLE: Readonly<Record<RepositoryAccess, RepositoryRole>> = {
  'repository:read': 'read',
  'repository:write': 'write',
  'repository:admin': 'admin',
};

/** Applies a repository route's declared role on the repository `name`; the handler's context. */
export async function enforceRepositoryAccess<A extends RepositoryAccess>(ctx: ApiContext, access: A, name: string): Promise<ContextByAccess[A]> {
  const { repository, role } = await requireRepository(ctx, name, MINIMUM_ROLE[access]);
  // checkCaller() already refused anonymous callers of the write and admin levels.
  return { ...ctx, repository, role } as ContextByAccess[A];
}
