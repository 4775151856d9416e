import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuthServices } from '../auth/services.js';
import type { AccountRecord, ServiceKeyRecord } from '../db/account-metadata.js';
import type { InstanceRecord } from '../db/instances.js';
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

/** The registry of serving instances (src/db/instances.ts), as the status endpoint reads it. */
export interface InstanceDirectory {
  list(): Promise<InstanceRecord[]>;
  /** A row whose last heartbeat is older than this is "not seen" (INSTANCE_NOT_SEEN_AFTER_S). */
  notSeenAfterMs: number;
  /** The id of the instance answering, so the page can say which one it talks to. */
  selfId?: string;
  /** Milliseconds since the epoch; injected by tests. */
  now?: () => number;
}

/** What the superuser endpoints need beyond the auth services. */
export interface SuperuserDeps {
  storage?: StorageValidation;
  instances?: InstanceDirectory;
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

function instanceView(instance: InstanceRecord, directory: InstanceDirectory, now: number) {
  return {
    id: instance.id,
    hostname: instance.hostname,
    addresses: instance.addresses,
    version: instance.version,
    started: quayDate(instance.startedAt),
    last_seen: quayDate(instance.lastSeenAt),
    seen_seconds_ago: Math.max(0, Math.floor((now - instance.lastSeenAt.getTime()) / 1000)),
    // Judged by the answering instance's clock against the writer's: the bound is many heartbeats long.
    seen: now - instance.lastSeenAt.getTime() <= directory.notSeenAfterMs,
    this_instance: instance.id === directory.selfId,
    health: instance.health,
  };
}

/** Registers /superuser/instances, /superuser/organizations/, /superuser/keys, /superuser/storage and its validation. */
export function superuserRoutes(app: FastifyInstance, services: AuthServices, deps: SuperuserDeps = {}): void {
  // Ours (Quay has no such endpoint): every instance of the fleet as its heartbeat last recorded it.
  route(app, services, {
    method: 'GET',
    url: slashed('/superuser/instances/'),
    access: 'superuser',
    handler: async () => {
      const directory = deps.instances;
      if (directory === undefined) return ok({ instances: [], not_seen_after_seconds: null });
      const now = (directory.now ?? Date.now)();
      const instances = await directory.list();
      return ok({ instances: instances.map((instance) => instanceView(instance, directory, now)), not_seen_after_seconds: Math.round(directory.notSeenAfterMs / 1000) });
    },
  });

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
