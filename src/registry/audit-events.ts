import { performerOf } from '../auth/identity.js';
import { namespaceOf } from '../db/repositories.js';
import type { RouteContext } from './context.js';

/**
 * Audit rows of the /v2 API, with Quay's kinds: pull_repo (a manifest fetched), push_repo (a manifest
 * stored, with its tags), delete_tag / delete_manifest / delete_blob. Recorded after the action succeeded;
 * the writer batches them, so a pull does not wait for an INSERT.
 */
export type RegistryAuditKind = 'pull_repo' | 'push_repo' | 'delete_tag' | 'delete_manifest' | 'delete_blob';

/** Records one event about the route's repository, performed by the request's identity. */
export function auditRepositoryEvent(ctx: RouteContext, kind: RegistryAuditKind, metadata: Record<string, unknown>): void {
  const { identity, clientAddress } = ctx.grant;
  const performer = performerOf(identity);
  ctx.deps.audit.record({
    kind,
    performer,
    namespace: namespaceOf(ctx.name) || null,
    repository: ctx.name,
    clientAddress,
    metadata: identity.kind === 'user' && identity.appTokenId !== undefined ? { ...metadata, app_token: identity.appTokenId } : metadata,
  });
}
