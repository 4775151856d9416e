import { pino, type Logger } from 'pino';
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
import { EarlyListener } from './early-listener.js';
import { resolveConfig, resolveDataDir, connectDatabase, ensureSchema, openPreferredStorage, describeDatabase, type CheckedConfig } from './runtime.js';

const HELP = `usage: quayside serve [options]

  --config FILE     a Quay config.yaml (env QUAYSIDE_CONFIG); keys it leaves out take the embedded defaults
  --data-dir DIR    where the embedded SQLite database and local blobs live (env QUAYSIDE_DATA_DIR, default ./quayside-data)
  --address ADDR    listen address (env QUAYSIDE_ADDRESS, default 127.0.0.1)
  --port PORT       listen port (env QUAYSIDE_PORT, default 5000; 0 picks a free one)
  --no-migrate      do not apply database migrations on start (refuse to start if some are pending)`;

const MANIFEST_LIMIT_BYTES = 4 * 1024 * 1024;
const DRAIN_TIMEOUT_MS = 30_000;

/** Maps the Quay configuration onto the /v2 API's limits and switches. */
export function registryOptionsFrom(config: Config): RegistryOptions {
  return {
    maxManifestBytes: MANIFEST_LIMIT_BYTES,
    maxLayerBytes: config.MAXIMUM_LAYER_SIZE,
    manifestLimits: { maxLayers: config.MAXIMUM_MANIFEST_LAYERS, maxIndexManifests: config.MAXIMUM_INDEX_MANIFESTS },
    referrersApi: config.FEATURE_REFERRERS_API,
    uploadExpiryMs: config.BLOB_UPLOAD_EXPIRY_S * 1000,
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
  const say = (line: string) => process.stdout.write(`${line}\n`);

  // Every check that can fail comes before the first side effect on shared state: the configuration (the
  // same checks as `config validate`), the port, the storage directory, the database connection. Only then
  // are migrations applied and a signing key published.
  const checked = await resolveConfig(values.config, dataDir);
  const listener = await EarlyListener.bind(address, port);
  let started = false;
  try {
    const store = await openPreferredStorage(checked);
    // The logger exists before the database, so a connection lost at any moment is logged, never unhandled.
    const logger = pino({ level: process.env.QUAYSIDE_LOG_LEVEL ?? 'info' });
    const database = await connectDatabase(checked, logger);
    try {
      await ensureSchema(database, !values['no-migrate'], say);
      started = true;
      await serveUntilSignal(checked, { listener, address, store, database, say, logger });
    } finally {
      await database.close();
    }
  } finally {
    if (!started) await listener.close();
  }
  return 0;
}

interface Running {
  listener: EarlyListener;
  address: string;
  store: Awaited<ReturnType<typeof openPreferredStorage>>;
  database: Awaited<ReturnType<typeof connectDatabase>>;
  say: (line: string) => void;
  logger: Logger;
}

async function serveUntilSignal(checked: CheckedConfig, { listener, address, store, database, say, logger }: Running): Promise<void> {
  const config = checked.config;
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
  await app.ready();
  await listener.attach(app.server);
  say(`quayside listening on http://${address.includes(':') ? `[${address}]` : address}:${listener.port}`);
  say(`metadata: ${describeDatabase(checked.database)}; blobs: ${store.kind} storage location "${checked.storage.location}"`);
  if ((await accounts.accounts.listAccounts({ limit: 1 }, 'user')).length === 0) {
    say('no users yet: create the first one with `quayside user create NAME --superuser` (same --data-dir or --config as serve)');
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
  await listener.close();
  connections.stop();
  await auth.stop();
  await audit.close();
  await store.close?.();
}
