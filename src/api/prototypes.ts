import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuthServices } from '../auth/services.js';
import type { AccountRecord, Delegate, PrototypeRecord } from '../db/account-metadata.js';
import { audit, noContent, ok, type UserContext } from './context.js';
import { badRequest, notFound } from './errors.js';
import { route } from './route.js';
import { MAX_NAME_INPUT_LENGTH, parseBody, repositoryRole } from './validation.js';

/**
 * Default permissions ("prototypes") of an organization: the role a user, robot or team gets on every
 * repository created in it from now on (/organization/{org}/prototypes[/{id}]: list, add, change the role in
 * place, remove). Org admins only.
 */

const PrototypeBody = z.object({
  delegate: z.object({
    kind: z.enum(['user', 'team']),
    name: z.string().min(1).max(MAX_NAME_INPUT_LENGTH),
  }),
  role: repositoryRole,
  // Quay can limit a prototype to repositories one user creates; that is not supported, so it must be absent.
  activating_user: z.null({ error: 'limiting a default permission to one activating user is not supported' }).optional(),
});

// Quay's PrototypeUpdate: only the role changes (the delegate is the prototype's identity).
const PrototypeUpdateBody = z.object({ role: repositoryRole });

const PROTOTYPE_ID_RE = /^[A-Za-z0-9-]{1,64}$/;

function prototypeView(prototype: PrototypeRecord, accountKinds: Map<number, AccountRecord['kind']>, orgMembers: Set<number>) {
  if (prototype.delegate.kind === 'team') {
    return { id: prototype.id, role: prototype.role, delegate: { name: prototype.delegateName, kind: 'team' } };
  }
  return {
    id: prototype.id,
    role: prototype.role,
    delegate: {
      name: prototype.delegateName,
      kind: 'user',
      is_robot: accountKinds.get(prototype.delegate.id) === 'robot',
      is_org_member: orgMembers.has(prototype.delegate.id),
    },
  };
}

async function viewsOf(ctx: UserContext, org: AccountRecord, prototypes: PrototypeRecord[]) {
  const members = await ctx.services.accounts.teams.organizationMembers(org.id);
  const orgMembers = new Set(members.map((m) => m.id));
  const accountKinds = new Map<number, AccountRecord['kind']>();
  for (const prototype of prototypes) {
    if (prototype.delegate.kind !== 'account' || accountKinds.has(prototype.delegate.id)) continue;
    const account = await ctx.services.accounts.accounts.getAccountById(prototype.delegate.id);
    if (account !== undefined) accountKinds.set(account.id, account.kind);
  }
  return prototypes.map((prototype) => prototypeView(prototype, accountKinds, orgMembers));
}

async function resolveDelegate(ctx: UserContext, org: AccountRecord, kind: 'user' | 'team', name: string): Promise<Delegate> {
  if (kind === 'team') {
    const team = await ctx.services.accounts.teams.getTeam(org.id, name);
    if (team === undefined) throw badRequest(`unknown team ${JSON.stringify(name)} in organization ${JSON.stringify(org.name)}`);
    return { kind: 'team', id: team.id };
  }
  const account = await ctx.services.accounts.accounts.getAccount(name);
  if (account === undefined) throw badRequest(`unknown user ${JSON.stringify(name)}`);
  if (account.kind === 'organization') throw badRequest(`${JSON.stringify(name)} is an organization, not a user`);
  if (account.kind === 'robot' && account.ownerId !== org.id) {
    throw badRequest(`robot ${JSON.stringify(name)} does not belong to organization ${JSON.stringify(org.name)}`);
  }
  return { kind: 'account', id: account.id };
}

/** Registers /organization/{org}/prototypes. */
export function prototypeRoutes(app: FastifyInstance, services: AuthServices): void {
  route(app, services, {
    method: 'GET',
    url: '/organization/:org/prototypes',
    access: 'orgAdmin',
    handler: async (ctx) => {
      const org = ctx.org;
      const prototypes = await services.accounts.permissions.listPrototypes(org.id);
      return ok({ prototypes: await viewsOf(ctx, org, prototypes) });
    },
  });

  route(app, services, {
    method: 'POST',
    url: '/organization/:org/prototypes',
    access: 'orgAdmin',
    handler: async (ctx) => {
      const org = ctx.org;
      const body = parseBody(PrototypeBody, ctx.request.body);
      const delegate = await resolveDelegate(ctx, org, body.delegate.kind, body.delegate.name);
      const prototype = await services.accounts.permissions.addPrototype(org.id, delegate, body.role);
      audit(ctx, 'create_prototype_permission', { namespace: org.name }, {
        id: prototype.id,
        role: prototype.role,
        delegate: { kind: body.delegate.kind, name: prototype.delegateName },
      });
      const [view] = await viewsOf(ctx, org, [prototype]);
      return ok(view);
    },
  });

  route(app, services, {
    method: 'PUT',
    url: '/organization/:org/prototypes/:id',
    access: 'orgAdmin',
    handler: async (ctx) => {
      const org = ctx.org;
      const id = ctx.params.id ?? '';
      const body = parseBody(PrototypeUpdateBody, ctx.request.body);
      const before = PROTOTYPE_ID_RE.test(id) ? (await services.accounts.permissions.listPrototypes(org.id)).find((p) => p.id === id) : undefined;
      const updated = before && (await services.accounts.permissions.setPrototypeRole(org.id, id, body.role));
      if (before === undefined || updated === undefined) {
        throw notFound(`no default permission ${JSON.stringify(id)} in organization ${JSON.stringify(org.name)}`);
      }
      audit(ctx, 'modify_prototype_permission', { namespace: org.name }, {
        id: updated.id,
        role: updated.role,
        original_role: before.role,
        delegate: { kind: updated.delegate.kind === 'team' ? 'team' : 'user', name: updated.delegateName },
      });
      const [view] = await viewsOf(ctx, org, [updated]);
      return ok(view);
    },
  });

  route(app, services, {
    method: 'DELETE',
    url: '/organization/:org/prototypes/:id',
    access: 'orgAdmin',
    handler: async (ctx) => {
      const org = ctx.org;
      const id = ctx.params.id ?? '';
      const prototype = PROTOTYPE_ID_RE.test(id) ? (await services.accounts.permissions.listPrototypes(org.id)).find((p) => p.id === id) : undefined;
      if (prototype === undefined || !(await services.accounts.permissions.deletePrototype(org.id, id))) {
        throw notFound(`no default permission ${JSON.stringify(id)} in organization ${JSON.stringify(org.name)}`);
      }
      audit(ctx, 'delete_prototype_permission', { namespace: org.name }, {
        id: prototype.id,
        role: prototype.role,
        delegate: { kind: prototype.delegate.kind === 'team' ? 'team' : 'user', name: prototype.delegateName },
      });
      return noContent();
    },
  });
}
