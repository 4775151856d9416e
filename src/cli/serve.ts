import { gcOptionsFrom } from '../gc/options.js';
import { pino, type Logger } from 'pino';
import { createApp } from '../server/create-app.js';
import { healthCheckerFrom } from '../health/rds-health.js';
import { createMetadata } from '../db/kysely-metadata.js';
import { createAccountMetadata } from '../db/kysely-accounts.js';
import { AuditLog } from '../audit/audit-log.js';
import { buildAuthServices } from '../auth/auth-services.js';
import { authOptionsFrom } from '../auth/options.js';
import type { RegistryOptions } from '../registry/context.js';
import type { Config } from '../config/schema.js';
import { connectionLimitsFrom, guardConnections } from '../net/connection-guard.js';
import { createHttp2Sessions, type RequestHandler } from '../net/http2-sessions.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import { parseCommandArgs, optionalPort } from './args.js';
import { attachListeners, bindListeners, closeListeners, edgeOptionsFrom, planListeners, type BoundListeners, type ListenerPlan } from './serve-listeners.js';
import { resolveConfig, resolveDataDir, connectDatabase, ensureSchema, openPreferredStorage, describeDatabase, type CheckedConfig } from './runtime.js';

const HELP = `usage: quayside serve [options]

  --config FILE       a Quay config.yaml (env QUAYSIDE_CONFIG); keys it leaves out take the embedded defaults
  --config-dir DIR    a Quay config directory (env QUAYSIDE_CONFIG_DIR): config.yaml, ssl.cert + ssl.key, extra_ca_certs/
  --data-dir DIR      where the embedded SQLite database and local blobs live (env QUAYSIDE_DATA_DIR, default ./quayside-data)
  --address ADDR      listen address of every port (env QUAYSIDE_ADDRESS, default 127.0.0.1)
  --port PORT         plain HTTP port (env QUAYSIDE_PORT, default 5000; 0 picks a free one; none: no plain HTTP)
  --https-port PORT   HTTPS port, with ssl.cert/ssl.key of --config-dir (env QUAYSIDE_HTTPS_PORT; default none)
  --proxy-port PORT   PROXY protocol port (env QUAYSIDE_PROXY_PORT; default none; the container uses 8443): a PROXY
                      v1/v2 header, then TLS (ssl.cert/ssl.key) or plain HTTP (EXTERNAL_TLS_TERMINATION: true)
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
    proxyStorage: config.FEATURE_PROXY_STORAGE,
    ...(config.FEATURE_GARBAGE_COLLECTION && { gc: gcOptionsFrom(config) }),
  };
}

/** `quayside serve`: runs until SIGINT/SIGTERM, then drains and exits 0. */
export async function runServeCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('serve', argv, {
    config: { type: 'string' },
    'config-dir': { type: 'string' },
    'data-dir': { type: 'string' },
    address: { type: 'string' },
    port: { type: 'string' },
    'https-port': { type: 'string' },
    'proxy-port': { type: 'string' },
    'no-migrate': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const address = values.address ?? process.env.QUAYSIDE_ADDRESS ?? '127.0.0.1';
  const ports = {
    http: optionalPort(values.port ?? process.env.QUAYSIDE_PORT ?? '5000', 'port'),
    https: optionalPort(values['https-port'] ?? process.env.QUAYSIDE_HTTPS_PORT, 'https-port'),
    proxy: optionalPort(values['proxy-port'] ?? process.env.QUAYSIDE_PROXY_PORT, 'proxy-port'),
  };
  const dataDir = resolveDataDir(values['data-dir']);
  const say = (line: string) => process.stdout.write(`${line}\n`);

  // Every check that can fail comes before the first side effect on shared state: the configuration (the
  // same checks as `config validate`), the port, the storage directory, the database connection. Only then
  // are migrations applied and a signing key published.
  const checked = await resolveConfig({ file: values.config, dir: values['config-dir'] }, dataDir);
  const plan = planListeners(checked, ports);
  const listeners = await bindListeners(address, plan);
  let started = false;
  try {
    const store = await openPreferredStorage(checked);
    // The logger exists before the database, so a connection lost at any moment is logged, never unhandled.
    const logger = pino({ level: process.env.QUAYSIDE_LOG_LEVEL ?? 'info' });
    const database = await connectDatabase(checked, logger);
    try {
      await ensureSchema(database, !values['no-migrate'], say);
      started = true;
      await serveUntilSignal(checked, { listeners, plan, address, store, database, say, logger });
    } finally {
      await database.close();
    }
  } finally {
    if (!started) await closeListeners(listeners);
  }
  return 0;
}

interface Running {
  listeners: BoundListeners;
  plan: ListenerPlan;
  address: string;
  store: Awaited<ReturnType<typeof openPreferredStorage>>;
  database: Awaited<ReturnType<typeof connectDatabase>>;
  say: (line: string) => void;
  logger: Logger;
}

async function serveUntilSignal(checked: CheckedConfig, { listeners, plan, address, store, database, say, logger }: Running): Promise<void> {
  const config = checked.config;
  const metadata = createMetadata(database);
  const accounts = createAccountMetadata(database);
  const audit = new AuditLog(accounts.audit, logger);
  const metrics = createMetricsRegistry();
  const auth = buildAuthServices({ accounts, metadata, options: authOptionsFrom(config), audit, log: logger });
  // The first signing key is published before the first request can ask for a token.
  await auth.start();
  const app = await createApp({
    metadata,
    blobs: store,
    options: registryOptionsFrom(config),
    auth,
    logger,
    edge: edgeOptionsFrom(config, plan, listeners),
    healthPolicy: healthCheckerFrom(config),
    metrics,
  });
  const limits = connectionLimitsFrom(config);
  const connections = guardConnections(app.server, limits, logger);
  await app.ready();
  // TLS connections that choose h2 by ALPN: sessions whose requests take the same route as HTTP/1's.
  const http2 = createHttp2Sessions({ handler: app.routing.bind(app) as unknown as RequestHandler, guard: connections, limits, logger });
  const edge = await attachListeners({ http1: app.server, http2 }, listeners, plan, logger);
  const shown = address.includes(':') ? `[${address}]` : address;
  if (listeners.http) say(`quayside listening on http://${shown}:${listeners.http.port}`);
  if (listeners.https) say(`quayside listening on https://${shown}:${listeners.https.port}`);
  if (listeners.proxy) say(`quayside listening for PROXY protocol then ${plan.proxyTls ? 'TLS' : 'plain HTTP'} on ${shown}:${listeners.proxy.port}`);
  say(`metadata: ${describeDatabase(checked.database)}; blobs: ${store.kind} storage location "${checked.storage.location}"`);
  if ((await accounts.accounts.listAccounts({ limit: 1 }, 'user')).length === 0) {
    say('no users yet: create the first one with `quayside user create NAME --superuser` (same --data-dir or --config as serve)');
  }

  // SIGHUP re-reads ssl.cert/ssl.key (a broken pair is refused with one line; the current one stays).
  // Without a certificate SIGHUP keeps its default meaning.
  const tls = edge.tls;
  const reload = () => void tls?.reload();
  if (tls) process.on('SIGHUP', reload);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      say(`quayside: ${signal} received, draining`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  process.off('SIGHUP', reload);
  // No listener accepts from here; in-flight requests may finish within the drain window, then the rest are cut.
  edge.stopAccepting();
  const drainTimer = setTimeout(() => {
    app.server.closeAllConnections();
    http2.destroyAll();
  }, DRAIN_TIMEOUT_MS);
  await Promise.all([app.close(), http2.closed()]);
  clearTimeout(drainTimer);
  await closeListeners(listeners);
  edge.close();
  connections.stop();
  await auth.stop();
  await audit.close();
  await store.close?.();
}
