import type { FastifyInstance } from 'fastify';
import type { AuthServices } from '../auth/services.js';
import type { AccountRecord } from '../db/account-metadata.js';
import { NamespaceGoneError } from '../db/namespace-locations.js';
import { addLocationProblem, requiredLocations, type ReplicationSettings } from '../storage/required-locations.js';
import { audit, noContent, ok, type ApiContext } from './context.js';
import { badRequest, notFound } from './errors.js';
import { route } from './route.js';
import { MAX_NAME_INPUT_LENGTH } from './validation.js';

/**
 * A namespace's own storage locations (Quay's UserRegion; docs/geo-replication.md), for superusers. Quay keeps
 * them in its database only (no endpoint sets them), so these endpoints are Quayside's, in the style of Quay's
 * superuser API:
 *
 *   GET    /superuser/namespaces/<namespace>/storagelocations             the listing below
 *   PUT    /superuser/namespaces/<namespace>/storagelocations/<location>  adds one (idempotent); the listing
 *   DELETE /superuser/namespaces/<namespace>/storagelocations/<location>  removes one; 204, deletes no data
 */

/** When none is given (an app without geo-replication): nothing configured, replication off. */
const NO_REPLICATION: ReplicationSettings = { enabled: false, configured: [], defaults: [] };

const PATH = '/superuser/namespaces/:namespace/storagelocations';

async function namespaceOf(ctx: ApiContext): Promise<AccountRecord> {
  const name = ctx.params.namespace ?? '';
  const account = name.length <= MAX_NAME_INPUT_LENGTH ? await ctx.services.accounts.accounts.getAccount(name) : undefined;
  // Robots own no repositories (Quay's UserRegion refuses them too).
  if (account === undefined || account.kind === 'robot') throw notFound(`namespace ${JSON.stringify(name.slice(0, 100))} not found`);
  return account;
}

async function listing(ctx: ApiContext, settings: ReplicationSettings, account: AccountRecord) {
  const own = await ctx.services.accounts.namespaceLocations.list(account.id);
  return {
    namespace: account.name,
    locations: own,
    default_locations: [...settings.defaults],
    // Where the namespace's pushed blobs must be; empty while FEATURE_STORAGE_REPLICATION is off.
    required_locations: settings.enabled ? requiredLocations(settings, own) : [],
    replication_enabled: settings.enabled,
  };
}

/** Adds the location; a namespace deleted since namespaceOf found it is a 404, as if it had been gone before. */
async function addTo(ctx: ApiContext, account: AccountRecord, location: string): Promise<boolean> {
  try {
    return await ctx.services.accounts.namespaceLocations.add(account.id, location);
  } catch (error) {
    if (error instanceof NamespaceGoneError) throw notFound(`namespace ${JSON.stringify(account.name)} not found`);
    throw error;
  }
}

function auditKind(account: AccountRecord, what: 'add' | 'remove'): string {
  return `${account.kind === 'user' ? 'user' : 'org'}_${what}_storage_location`;
}

/** Registers the three routes; `settings` comes from the configuration (FEATURE_STORAGE_REPLICATION, the locations). */
export function namespaceLocationRoutes(app: FastifyInstance, services: AuthServices, settings: ReplicationSettings = NO_REPLICATION): void {
  route(app, services, {
    method: 'GET',
    url: PATH,
    access: 'superuser',
    handler: async (ctx) => ok(await listing(ctx, settings, await namespaceOf(ctx))),
  });

  route(app, services, {
    method: 'PUT',
    url: `${PATH}/:location`,
    access: 'superuser',
    handler: async (ctx) => {
      const account = await namespaceOf(ctx);
      const location = ctx.params.location ?? '';
      const problem = addLocationProblem(settings, location);
      if (problem !== undefined) throw badRequest(problem);
      if (await addTo(ctx, account, location)) {
        audit(ctx, auditKind(account, 'add'), { namespace: account.name }, { namespace: account.name, location });
      }
      return ok(await listing(ctx, settings, account));
    },
  });

  route(app, services, {
    method: 'DELETE',
    url: `${PATH}/:location`,
    access: 'superuser',
    handler: async (ctx) => {
      const account = await namespaceOf(ctx);
      const location = ctx.params.location ?? '';
      // Not checked against the configuration: removing a location that left it is how its rows are cleaned up.
      if (!(await ctx.services.accounts.namespaceLocations.remove(account.id, location))) {
        throw notFound(`${JSON.stringify(location.slice(0, 100))} is not one of the storage locations of ${account.name}`);
      }
      audit(ctx, auditKind(account, 'remove'), { namespace: account.name }, { namespace: account.name, location });
      return noContent();
    },
  });
}
