import { z } from 'zod';
import type { AccountRecord, Delegate, PermissionRecord } from '../db/account-metadata.js';
import type { RepositoryRecord } from '../db/metadata.js';
import type { ContextByAccess } from './access.js';
import { auditRepository, noContent, ok, type ApiContext } from './context.js';
import { badRequest, notFound } from './errors.js';
import { splitRepositoryName, type DelegateKind } from './paths.js';
import type { RepositoryRouteTable } from './repository-routes.js';
import { MAX_NAME_INPUT_LENGTH, parseBody, repositoryRole } from './validation.js';

/**
 * Repository permissions of users, robots and teams (/repository/{repo}/permissions/{user|team}/...).
 * Only the repository's admins see or change them.
 */

const RoleBody = z.object({ role: repositoryRole });

interface Scope {
  repository: RepositoryRecord;
  namespace: string;
  /** The namespace's account (an organization or a user), when it exists. */
  owner: AccountRecord | undefined;
}

async function scopeOf(ctx: ContextByAccess['repository:admin']): Promise<Scope> {
  const { repository } = ctx;
  const namespace = splitRepositoryName(repository.name).namespace;
  const owner = await ctx.services.accounts.accounts.getAccount(namespace);
  return { repository, namespace, owner };
}

/** Ids of every user and robot in a team of the namespace organization (for is_org_member). */
async function organizationMemberIds(ctx: ApiContext, scope: Scope): Promise<Set<number>> {
  if (scope.owner?.kind !== 'organization') return new Set();
  const members = await ctx.services.accounts.teams.organizationMembers(scope.owner.id);
  return new Set(members.map((m) => m.id));
}

function permissionView(permission: PermissionRecord, orgMembers: Set<number>) {
  if (permission.delegate.kind === 'team') return { role: permission.role, name: permission.delegateName };
  return {
    role: permission.role,
    name: permission.delegateName,
    is_robot: permission.accountKind === 'robot',
    is_org_member: orgMembers.has(permission.delegate.id),
  };
}

function delegateKindOf(permission: PermissionRecord): DelegateKind {
  return permission.delegate.kind === 'team' ? 'team' : 'user';
}

/** The delegate a PUT names: a user, a robot of the repository's namespace, or a team of its organization. */
async function resolveDelegate(ctx: ApiContext, scope: Scope, kind: DelegateKind, name: string): Promise<{ delegate: Delegate; name: string }> {
  if (name.length > MAX_NAME_INPUT_LENGTH) throw badRequest('name is longer than 255 characters');
  if (kind === 'team') {
    if (scope.owner?.kind !== 'organization') throw badRequest('teams exist only in organizations; this repository belongs to a user');
    const team = await ctx.services.accounts.teams.getTeam(scope.owner.id, name);
    if (team === undefined) throw badRequest(`unknown team ${JSON.stringify(name)} in organization ${JSON.stringify(scope.owner.name)}`);
    return { delegate: { kind: 'team', id: team.id }, name: team.name };
  }
  const account = await ctx.services.accounts.accounts.getAccount(name);
  if (account === undefined) throw badRequest(`unknown user ${JSON.stringify(name)}`);
  if (account.kind === 'organization') throw badRequest(`${JSON.stringify(name)} is an organization; permissions go to users, robots or teams`);
  if (account.kind === 'robot' && (scope.owner === undefined || account.ownerId !== scope.owner.id)) {
    throw badRequest(`robot ${JSON.stringify(name)} does not belong to namespace ${JSON.stringify(scope.namespace)}`);
  }
  return { delegate: { kind: 'account', id: account.id }, name: account.name };
}

async function findPermission(ctx: ApiContext, scope: Scope, kind: DelegateKind, name: string): Promise<PermissionRecord> {
  const permissions = await ctx.services.accounts.permissions.listPermissions(scope.repository.id);
  const found = permissions.find((p) => delegateKindOf(p) === kind && p.delegateName === name);
  if (found === undefined) throw notFound(`no permission for ${kind} ${JSON.stringify(name)} on this repository`);
  return found;
}

function auditKey(kind: DelegateKind): 'username' | 'team' {
  return kind === 'team' ? 'team' : 'username';
}

export const permissionRoutes: RepositoryRouteTable = {
  'GET permissions': {
    access: 'repository:admin',
    handler: async (ctx, path) => {
      if (path.resource.kind !== 'permissions') throw notFound();
      const kind = path.resource.delegate;
      const scope = await scopeOf(ctx);
      const orgMembers = kind === 'user' ? await organizationMemberIds(ctx, scope) : new Set<number>();
      const permissions = (await ctx.services.accounts.permissions.listPermissions(scope.repository.id)).filter((p) => delegateKindOf(p) === kind);
      return ok({ permissions: Object.fromEntries(permissions.map((p) => [p.delegateName, permissionView(p, orgMembers)])) });
    },
  },
  'GET permission': {
    access: 'repository:admin',
    handler: async (ctx, path) => {
      if (path.resource.kind !== 'permission') throw notFound();
      const scope = await scopeOf(ctx);
      const permission = await findPermission(ctx, scope, path.resource.delegate, path.resource.name);
      return ok(permissionView(permission, await organizationMemberIds(ctx, scope)));
    },
  },
  'PUT permission': {
    access: 'repository:admin',
    handler: async (ctx, path) => {
      if (path.resource.kind !== 'permission') throw notFound();
      const { delegate: kind, name } = path.resource;
      const scope = await scopeOf(ctx);
      const body = parseBody(RoleBody, ctx.request.body);
      const target = await resolveDelegate(ctx, scope, kind, name);
      await ctx.services.accounts.permissions.setPermission(scope.repository.id, target.delegate, body.role);
      auditRepository(ctx, 'change_repo_permission', scope.repository.name, { [auditKey(kind)]: target.name, role: body.role });
      const permission = await findPermission(ctx, scope, kind, target.name);
      return ok(permissionView(permission, kind === 'user' ? await organizationMemberIds(ctx, scope) : new Set()));
    },
  },
  'DELETE permission': {
    access: 'repository:admin',
    handler: async (ctx, path) => {
      if (path.resource.kind !== 'permission') throw notFound();
      const { delegate: kind, name } = path.resource;
      const scope = await scopeOf(ctx);
      const permission = await findPermission(ctx, scope, kind, name);
      if (!(await ctx.services.accounts.permissions.deletePermission(scope.repository.id, permission.delegate))) {
        throw notFound(`no permission for ${kind} ${JSON.stringify(name)} on this repository`);
      }
      auditRepository(ctx, 'delete_repo_permission', scope.repository.name, { [auditKey(kind)]: permission.delegateName });
      return noContent();
    },
  },
};
