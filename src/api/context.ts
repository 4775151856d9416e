import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditInput } from '../audit/audit-log.js';
import type { Identity, UserIdentity } from '../auth/identity.js';
import { performerOf } from '../auth/identity.js';
import type { AuthServices } from '../auth/services.js';
import type { AccountRecord, RepositoryRole } from '../db/account-metadata.js';
import type { RepositoryRecord } from '../db/metadata.js';
import { clientAddress } from '../net/client-address.js';
import { forbidden, notFound, unauthorized } from './errors.js';
import { splitRepositoryName } from './paths.js';
import { checkCrossSiteGuard, resolveIdentity, type CredentialKind } from './session.js';

/**
 * What every /api/v1 handler gets, and the small guards its route declares up front (user required,
 * organization admin, repository role). Routes are registered through `route()`, which resolves the
 * identity, applies the route's access level and the cross-site guard, then sends the handler's result.
 */

export interface ApiContext {
  services: AuthServices;
  request: FastifyRequest;
  reply: FastifyReply;
  identity: Identity;
  via: CredentialKind;
  /** The real client address, for the audit log. */
  address: string;
  params: Record<string, string>;
}

/** A context whose caller is a signed-in user. */
export interface UserContext extends ApiContext {
  identity: UserIdentity;
}

export interface ApiResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** 200 with a JSON body. */
export function ok(body: unknown): ApiResult {
  return { status: 200, body };
}

/** 201 with a JSON body. */
export function created(body: unknown): ApiResult {
  return { status: 201, body };
}

/** 204, no body. */
export function noContent(): ApiResult {
  return { status: 204 };
}

/** Who may call a route at all; finer checks (org admin, repository role) are guards in the handler's first lines. */
export type Access = 'public' | 'user' | 'superuser';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export type RouteSpec =
  | { method: HttpMethod; url: string | readonly string[]; access: 'public'; handler: (ctx: ApiContext) => Promise<ApiResult> }
  | { method: HttpMethod; url: string | readonly string[]; access: 'user' | 'superuser'; handler: (ctx: UserContext) => Promise<ApiResult> };

/** Narrows the context to a signed-in user, or refuses (401 anonymous). */
export function requireUser(ctx: ApiContext): UserContext {
  if (ctx.identity.kind !== 'user') throw unauthorized();
  return ctx as UserContext;
}

/** Builds the context of a request and applies the access level of its route. */
export async function contextFor(services: AuthServices, request: FastifyRequest, reply: FastifyReply, access: Access): Promise<ApiContext> {
  const address = clientAddress(request.raw.socket);
  const { identity, via } = await resolveIdentity(services, request, address);
  const ctx: ApiContext = { services, request, reply, identity, via, address, params: (request.params ?? {}) as Record<string, string> };
  if (access !== 'public') {
    const user = requireUser(ctx);
    if (access === 'superuser' && !user.identity.superuser) throw forbidden('superuser access required');
  }
  checkCrossSiteGuard(request, via);
  return ctx;
}

/** Sends a handler's result as JSON. */
export async function sendResult(reply: FastifyReply, result: ApiResult): Promise<void> {
  reply.code(result.status);
  if (result.headers) reply.headers(result.headers);
  if (result.body === undefined) {
    await reply.send();
    return;
  }
  await reply.type('application/json; charset=utf-8').send(JSON.stringify(result.body));
}

/** Registers one route (at one or several paths, e.g. with and without Quay's trailing slash). */
export function route(app: FastifyInstance, services: AuthServices, spec: RouteSpec): void {
  const urls = typeof spec.url === 'string' ? [spec.url] : spec.url;
  for (const url of urls) {
    app.route({
      method: spec.method,
      url,
      handler: async (request, reply) => {
        const ctx = await contextFor(services, request, reply, spec.access);
        const result = spec.access === 'public' ? await spec.handler(ctx) : await spec.handler(ctx as UserContext);
        await sendResult(reply, result);
      },
    });
  }
}

/** Quay's paths with a trailing slash also answer without it. */
export function slashed(path: string): string[] {
  return [path, path.replace(/\/$/, '')];
}

/** Queues an audit row performed by the caller from the client's address. */
export function audit(
  ctx: ApiContext,
  kind: string,
  where: { namespace?: string | null; repository?: string | null },
  metadata: Record<string, unknown>,
): void {
  const input: AuditInput = {
    kind,
    performer: performerOf(ctx.identity),
    namespace: where.namespace ?? null,
    repository: where.repository ?? null,
    clientAddress: ctx.address,
    metadata,
  };
  ctx.services.audit.record(input);
}

/** An audit row about one repository, with Quay's `repo` and `namespace` metadata in front of `metadata`. */
export function auditRepository(ctx: ApiContext, kind: string, repositoryName: string, metadata: Record<string, unknown> = {}): void {
  const split = splitRepositoryName(repositoryName);
  audit(ctx, kind, { namespace: split.namespace, repository: repositoryName }, { repo: split.name, namespace: split.namespace, ...metadata });
}

/** The organization, or 404. */
export async function loadOrganization(ctx: ApiContext, name: string): Promise<AccountRecord> {
  const account = name.length <= 255 ? await ctx.services.accounts.accounts.getAccount(name) : undefined;
  if (account === undefined || account.kind !== 'organization') throw notFound(`organization ${JSON.stringify(name)} not found`);
  return account;
}

/** The organization, when the caller administers it (an admin team, or a superuser); else 403 (404 when missing). */
export async function requireOrganizationAdmin(ctx: UserContext, name: string): Promise<AccountRecord> {
  const org = await loadOrganization(ctx, name);
  if (!(await ctx.services.policy.administersNamespace(ctx.identity, org.name))) {
    throw forbidden(`administering organization ${JSON.stringify(org.name)} requires its admin team`);
  }
  return org;
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
export async function requireRepository(
  ctx: ApiContext,
  name: string,
  minimum: RepositoryRole,
): Promise<{ repository: RepositoryRecord; role: RepositoryRole }> {
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
