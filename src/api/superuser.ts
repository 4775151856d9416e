import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuthServices } from '../auth/services.js';
import type { AccountRecord, ServiceKeyRecord } from '../db/account-metadata.js';
import type { ReplicationSettings } from '../storage/required-locations.js';
import { audit, noContent, ok } from './context.js';
import { badRequest, notFound } from './errors.js';
import { quayDate } from './format.js';
import { route, slashed } from './route.js';
import { MAX_NAME_INPUT_LENGTH, parseQuery, queryInteger } from './validation.js';

/**
 * The superuser panel's endpoints that are not about users (users.ts has those, logs.ts the whole log):
 * every organization, the instances' service keys, and the storage locations with Quay's `_verify` check.
 */

/** One storage location's verdict: ok, or the one-line reason (as `quayside storage validate` prints it). */
export interface StorageLocationCheck {
  name: string;
  driver: string;
  ok: boolean;
  failure?: string;
}

/**
 * The configured storage locations of this instance and Quay's marker check on them, given by the
 * composition root (serve builds it from DISTRIBUTED_STORAGE_CONFIG); the API never opens storage itself.
 */
export interface StorageValidation {
  /** The locations in DISTRIBUTED_STORAGE_PREFERENCE order (the preferred one first). */
  locations(): ReadonlyArray<{ name: string; driver: string }>;
  /** Writes `<storage_path>/_verify` in every location and reads it back, all at once. */
  validate(): Promise<StorageLocationCheck[]>;
}

/** What the superuser endpoints need beyond the auth services. */
export interface SuperuserDeps {
  storage?: StorageValidation;
  /** Geo-replication's settings, for a namespace's own storage locations (namespace-locations.ts); none: off. */
  replication?: ReplicationSettings;
}

const ListQuery = z.object({
  next_page: z.string().min(1).max(MAX_NAME_INPUT_LENGTH).optional(),
  limit: queryInteger(1, 500).optional(),
});

const DEFAULT_LIMIT = 100;

function organizationView(account: AccountRecord) {
  return { kind: 'org', name: account.name, email: account.email ?? '' };
}

/** Quay's service key view; our keys are approved by the instance that made them, so approval is automatic. */
function serviceKeyView(key: ServiceKeyRecord) {
  return {
    kid: key.kid,
    name: null,
    service: 'quayside',
    public_key: key.publicKeyPem,
    metadata: { created_by: key.createdBy },
    created_date: quayDate(key.createdAt),
    expiration_date: quayDate(key.expiresAt),
    approval: { approval_type: 'ServiceKeyApprovalType.AUTOMATIC', approver: null },
  };
}

/** Registers /superuser/organizations/, /superuser/keys, /superuser/storage and its validation. */
export function superuserRoutes(app: FastifyInstance, services: AuthServices, deps: SuperuserDeps = {}): void {
  route(app, services, {
    method: 'GET',
    url: slashed('/superuser/organizations/'),
    access: 'superuser',
    handler: async (ctx) => {
      const query = parseQuery(ListQuery, ctx.request.query);
      const limit = query.limit ?? DEFAULT_LIMIT;
      const page = await services.accounts.accounts.listAccounts({ last: query.next_page, limit: limit + 1 }, 'organization');
      const organizations = page.slice(0, limit);
      return ok({
        organizations: organizations.map(organizationView),
        ...(page.length > limit ? { next_page: organizations[organizations.length - 1]!.name } : {}),
      });
    },
  });

  route(app, services, {
    method: 'DELETE',
    url: '/superuser/organizations/:name',
    access: 'superuser',
    handler: async (ctx) => {
      const name = ctx.params.name ?? '';
      const org = name.length <= MAX_NAME_INPUT_LENGTH ? await services.accounts.accounts.getAccount(name) : undefined;
      if (org === undefined || org.kind !== 'organization') throw notFound(`organization ${JSON.stringify(name)} not found`);
      // StillInUseError (repositories left) becomes a 400 carrying the store's message.
      await services.accounts.accounts.deleteAccount(org.id);
      audit(ctx, 'org_delete', { namespace: org.name }, { namespace: org.name });
      return noContent();
    },
  });

  route(app, services, {
    method: 'GET',
    url: slashed('/superuser/keys/'),
    access: 'superuser',
    handler: async () => ok({ keys: (await services.accounts.serviceKeys.listActive(new Date())).map(serviceKeyView) }),
  });

  route(app, services, {
    method: 'GET',
    url: '/superuser/keys/:kid',
    access: 'superuser',
    handler: async (ctx) => {
      const kid = ctx.params.kid ?? '';
      const key = kid.length <= MAX_NAME_INPUT_LENGTH ? await services.accounts.serviceKeys.get(kid) : undefined;
      if (key === undefined) throw notFound(`service key ${JSON.stringify(kid.slice(0, 80))} not found`);
      return ok(serviceKeyView(key));
    },
  });

  route(app, services, {
    method: 'GET',
    url: slashed('/superuser/storage/'),
    access: 'superuser',
    handler: async () => ok({ locations: (deps.storage?.locations() ?? []).map((location, index) => ({ ...location, preferred: index === 0 })) }),
  });

  // Quay's superuser config validation of the `registry-storage` service, run on this instance's own config.
  route(app, services, {
    method: 'POST',
    url: '/superuser/config/validate/registry-storage',
    access: 'superuser',
    handler: async () => {
      if (deps.storage === undefined || deps.storage.locations().length === 0) throw badRequest('this server knows no storage location to validate');
      const locations = await deps.storage.validate();
      const failed = locations.filter((location) => !location.ok);
      return ok({
        status: failed.length === 0,
        ...(failed.length === 0 ? {} : { reason: failed.map((location) => `${location.name}: ${location.failure ?? 'failed'}`).join('; ') }),
        locations,
      });
    },
  });
}
