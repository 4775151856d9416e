import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditInput } from '../audit/audit-log.js';
import type { Identity, UserIdentity } from '../auth/identity.js';
import { performerOf } from '../auth/identity.js';
import type { AuthServices } from '../auth/services.js';
import { clientAddress } from '../net/client-address.js';
import { splitRepositoryName } from './paths.js';
import { resolveIdentity, type CredentialKind } from './session.js';

/**
 * What every /api/v1 handler gets (the caller, the request, the services) and how its result is sent.
 * What a route requires is declared with the route and enforced by access.ts before the handler runs.
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

/** Builds the context of a request: who the caller is (no access is checked here; see access.ts). */
export async function contextFor(services: AuthServices, request: FastifyRequest, reply: FastifyReply): Promise<ApiContext> {
  const address = clientAddress(request.raw);
  const { identity, via } = await resolveIdentity(services, request, address);
  return { services, request, reply, identity, via, address, params: (request.params ?? {}) as Record<string, string> };
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
