import { pino } from 'pino';
import { createApp } from '../server/create-app.js';
import { createMetadata } from '../db/kysely-metadata.js';
import { createAccountMetadata } from '../db/kysely-accounts.js';
import { AuditLog } from '../audit/audit-log.js';
import { buildAuthServices } from '../auth/auth-services.js';
import { authOptionsFrom } from '../auth/options.js';
import type { RegistryOptions } from '../registry/context.js';
import type { Config } from '../config/schema.js';
import { connectionLimitsFrom, guardConnections } from '../net/connection-guard.js';
import { parseCommandArgs, parsePort } from './args.js';
import { resolveConfig, resolveDataDir, openConfiguredDatabase, ensureSchema, openPreferredStorage } from './runtime.js';

const HELP = `usage: quayside serve [options]

  --config FILE     a Quay config.yaml (env QUAYSIDE_CONFIG); keys it leaves out take the embedded defaults
  --data-dir DIR    where the embedded SQLite database and local blobs live (env QUAYSIDE_DATA_DIR, default ./quayside-data)
  --address ADDR    listen address (env QUAYSIDE_ADDRESS, default 127.0.0.1)
  --port PORT       listen port (env QUAYSIDE_PORT, default 5000; 0 picks a free one)
  --no-migrate      do not apply database migrations on start (refuse to start if some are pending)`;

const MANIFEST_LIMIT_BYTES = 4 * 1024 * 1024;
const UPLOAD_EXPIRY_MS = 24 * 60 * 60 * 1000;
const DRAIN_TIMEOUT_MS = 30_000;

/** Maps the Quay configuration onto the /v2 API's limits and switches. */
export function registryOptionsFrom(config: Config): RegistryOptions {
  return {
    maxManifestBytes: MANIFEST_LIMIT_BYTES,
    maxLayerBytes: config.MAXIMUM_LAYER_SIZE,
    manifestLimits: { maxLayers: config.MAXIMUM_MANIFEST_LAYERS, maxIndexManifests: config.MAXIMUM_INDEX_MANIFESTS },
    referrersApi: config.FEATURE_REFERRERS_API,
    uploadExpiryMs: UPLOAD_EXPIRY_MS,
  };
}

/** `quayside serve`: runs until SIGINT/SIGTERM, then drains and exits 0. */
export async function runServeCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('serve', argv, {
    config: { type: 'string' },
    'data-dir': { type: 'string' },
    address: { type: 'string' },
    port: { type: 'string' },
    'no-migrate': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const address = values.address ?? process.env.QUAYSIDE_ADDRESS ?? '127.0.0.1';
  const port = parsePort(values.port ?? process.env.QUAYSIDE_PORT ?? '5000', 'port');
  const dataDir = resolveDataDir(values['data-dir']);
  const config = await resolveConfig(values.config, dataDir);
  const say = (line: string) => process.stdout.write(`${line}\n`);

  // Storage is built (no I/O) before the database is touched, so a storage configuration that cannot start
  // is refused before anything is created or migrated.
  const { location, store } = openPreferredStorage(config);
  const database = await openConfiguredDatabase(config);
  await ensureSchema(database, !values['no-migrate'], say);

  const logger = pino({ level: process.env.QUAYSIDE_LOG_LEVEL ?? 'info' });
  const metadata = createMetadata(database);
  const accounts = createAccountMetadata(database);
  const audit = new AuditLog(accounts.audit, logger);
  const auth = buildAuthServices({ accounts, metadata, options: authOptionsFrom(config), audit, log: logger });
  // The first signing key is published before the first request can ask for a token.
  await auth.start();
  const app = await createApp({
    metadata,
    blobs: store,
    options: registryOptionsFrom(config),
    auth,
    logger,
  });
  const connections = guardConnections(app.server, connectionLimitsFrom(config), logger);
  await app.listen({ host: address, port });
  const bound = app.server.address();
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  say(`quayside listening on http://${address.includes(':') ? `[${address}]` : address}:${boundPort}`);
  say(`metadata: ${database.dialect}${database.dialect === 'sqlite' ? ` (${config.DB_URI})` : ''}; blobs: ${store.kind} storage location "${location}"`);
  if ((await accounts.accounts.listAccounts({ limit: 1 }, 'user')).length === 0) {
    say('no users yet: create the first one with `quayside user create NAME` (same --data-dir or --config as serve) and list it in SUPER_USERS to administer everything');
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      say(`quayside: ${signal} received, draining`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  // In-flight requests may finish within the drain window; after it, the remaining connections are cut.
  const drainTimer = setTimeout(() => app.server.closeAllConnections(), DRAIN_TIMEOUT_MS);
  await app.close();
  clearTimeout(drainTimer);
  connections.stop();
  await auth.stop();
  await audit.close();
  await store.close?.();
  await database.close();
  return 0;
}
