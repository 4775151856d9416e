import cluster from 'node:cluster';
import { gcOptionsFrom } from '../gc/options.js';
import { openPullStatistics } from '../stats/open-pull-statistics.js';
import { startPullStatisticsFlush } from '../workers/pull-statistics-flush.js';
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
import { AggregatorRegistry, collectDefaultMetrics } from 'prom-client';
import { openCache } from '../cache/open-cache.js';
import { createMetricsRegistry, type MetricsRegistry } from '../metrics/registry.js';
import { DatabaseMetrics } from '../metrics/database-metrics.js';
import { serveMetrics } from '../metrics/metrics-server.js';
import { ProxyProtocolMetrics } from '../net/proxy-protocol-metrics.js';
import { DispatchedListener, receiveConnections } from '../cluster/dispatched-listener.js';
import { siblingInvalidation } from '../cluster/sibling-invalidation.js';
import { WORKER_PORTS_ENV, type ListenerKind, type ReadyMessage } from '../cluster/messages.js';
import { resolveWorkerCount, WorkerCountError } from '../cluster/worker-count.js';
import { RELAY_DELAY_ENV, relayDelayFrom, RelayDelayError } from '../cluster/relay-delay.js';
import { WorkerPool, WorkerStartError } from '../cluster/worker-pool.js';
import { CliError } from './cli-error.js';
import { EarlyListener } from './early-listener.js';
import { parseCommandArgs, optionalPort } from './args.js';
import { attachListeners, bindListeners, closeListeners, edgeOptionsFrom, planListeners, type BoundListeners, type ListenerPlan, type ServeListeners } from './serve-listeners.js';
import { resolveConfig, resolveDataDir, connectDatabase, ensureSchema, openStorageLocations, describeDatabase, storageValidationOf, sharedTokenLinkFor, shareStorageTokens, type CheckedConfig } from './runtime.js';
import type { StorageLocation } from '../storage/distributed.js';
import { replicationSettingsFrom } from '../storage/required-locations.js';
import type { SharedTokenLink } from '../storage/shared-token-link.js';
import { geoReplicationParts } from './geo-replication.js';
import { INSTANCE_ID_ENV, instanceDirectory, instanceIdentity, listenerAddresses, startRegistryHeartbeat } from './instance-registry.js';
import { registryChecks } from '../health/checks.js';
import { healthReporter, type HealthReporter } from '../health/routes.js';
import { openRedisConnection } from '../redis/connection.js';
import { redisEndpointFrom } from '../redis/endpoint.js';

const HELP = `usage: quayside serve [options]

  --config FILE       a Quay config.yaml (env QUAYSIDE_CONFIG); keys it leaves out take the embedded defaults
  --config-dir DIR    a Quay config directory (env QUAYSIDE_CONFIG_DIR): config.yaml, ssl.cert + ssl.key, extra_ca_certs/
  --data-dir DIR      where the embedded SQLite database and local blobs live (env QUAYSIDE_DATA_DIR, default ./quayside-data)
  --address ADDR      listen address of every port (env QUAYSIDE_ADDRESS, default 127.0.0.1)
  --port PORT         plain HTTP port (env QUAYSIDE_PORT, default 5000; 0 picks a free one; none: no plain HTTP)
  --https-port PORT   HTTPS port, with ssl.cert/ssl.key of --config-dir (env QUAYSIDE_HTTPS_PORT; default none)
  --proxy-port PORT   PROXY protocol port (env QUAYSIDE_PROXY_PORT; default none; the container uses 8443): a PROXY
                      v1/v2 header, then TLS (ssl.cert/ssl.key) or plain HTTP (EXTERNAL_TLS_TERMINATION: true)
  --workers N|auto    worker processes serving the ports (env QUAYSIDE_WORKERS, config WORKER_COUNT_REGISTRY; default
                      auto: one per CPU); 1 serves from this process alone
  --metrics-port PORT Prometheus /metrics, summed over the workers (env QUAYSIDE_METRICS_PORT; default none)
  --no-migrate        do not apply database migrations on start (refuse to start if some are pending)
  --no-replication    do not run the geo-replication worker in this instance (config STORAGE_REPLICATION_WORKER: false;
                      pushes still queue copies for the instances that run it; docs/geo-replication.md)`;

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
    pushGraceMs: gcOptionsFrom(config).graceMs,
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
    workers: { type: 'string' },
    'metrics-port': { type: 'string' },
    'no-migrate': { type: 'boolean', default: false },
    'no-replication': { type: 'boolean', default: false },
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
  const metricsPort = optionalPort(values['metrics-port'] ?? process.env.QUAYSIDE_METRICS_PORT, 'metrics-port');
  const dataDir = resolveDataDir(values['data-dir']);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const location = { file: values.config, dir: values['config-dir'] };
  const replicationWorker = !values['no-replication'];
  if (cluster.isWorker) return runWorker(location, dataDir, ports, replicationWorker);

  // Every check that can fail comes before the first side effect on shared state: the configuration (the
  // same checks as `config validate`), the port, the storage directory, the database connection. Only then
  // are migrations applied and a signing key published.
  const checked = await resolveConfig(location, dataDir);
  let workers: number;
  let relayDelayMs: number;
  try {
    workers = resolveWorkerCount(values.workers, process.env.QUAYSIDE_WORKERS, checked.config.WORKER_COUNT_REGISTRY);
    relayDelayMs = relayDelayFrom(process.env[RELAY_DELAY_ENV]);
  } catch (error) {
    if (error instanceof WorkerCountError || error instanceof RelayDelayError) throw new CliError(`serve: ${error.message}`, 2);
    throw error;
  }
  const plan = planListeners(checked, ports);
  const listeners = await bindListeners(address, plan);
  let metricsListener: EarlyListener | undefined;
  let started = false;
  try {
    if (metricsPort !== undefined) metricsListener = await EarlyListener.bind(address, metricsPort);
    // Storage is checked before the database is touched; the stores get the fleet's shared token cache once
    // the schema is there (until then each keeps the token its check obtained, and shares it afterwards).
    const sharedTokens = sharedTokenLinkFor(checked.config);
    const locations = await openStorageLocations(checked, sharedTokens);
    // The logger exists before the database, so a connection lost at any moment is logged, never unhandled.
    const logger = pino({ level: process.env.QUAYSIDE_LOG_LEVEL ?? 'info' });
    const metrics = processMetrics();
    const database = await connectDatabase(checked, logger, workers === 1 ? metrics.database.onQuery : undefined);
    let stopSharingTokens: () => void = () => undefined;
    try {
      await ensureSchema(database, !values['no-migrate'], say);
      stopSharingTokens = shareStorageTokens(sharedTokens, database, tokenLog(logger));
      started = true;
      const identity = instanceIdentity(listenerAddresses(address, plan, listeners));
      const running = { listeners, plan, address, locations, database, say, logger, metricsListener, metrics, replicationWorker, identity, ...(sharedTokens && { sharedTokens }) };
      if (workers === 1) {
        await serveUntilSignal(checked, { ...running, role: 'single' });
      } else {
        await sayStartup(checked, running);
        // The workers open their own stores; this process deals out connections and keeps its stores only for
        // the instance heartbeat's health checks (the same probes as the workers' /health endpoints).
        try {
          await superviseWorkers(checked, { ...running, workers, relayDelayMs });
        } finally {
          await Promise.allSettled(locations.map((l) => l.store.close?.()));
        }
      }
    } finally {
      stopSharingTokens();
      await database.close();
    }
  } finally {
    if (!started) {
      await closeListeners(listeners);
      await metricsListener?.close();
    }
  }
  return 0;
}

/**
 * A worker process of a multi-process `serve` (node:cluster runs the same command line): the primary checked
 * the configuration, bound the ports and migrated; this builds the application and serves the connections the
 * primary sends (src/cluster/dispatched-listener.ts). Nothing it holds in memory is needed by another worker.
 */
async function runWorker(location: { file?: string; dir?: string }, dataDir: string, requested: { http?: number; https?: number; proxy?: number }, replicationWorker: boolean): Promise<number> {
  const ports = JSON.parse(process.env[WORKER_PORTS_ENV] ?? '{}') as Partial<Record<ListenerKind, number>>;
  const listeners: Partial<Record<ListenerKind, DispatchedListener>> = {};
  for (const kind of ['http', 'https', 'proxy'] as const) {
    const port = ports[kind];
    if (port !== undefined) listeners[kind] = new DispatchedListener(port);
  }
  // Connections may come as soon as the primary sees this process; they wait in the listeners until attach.
  const stopReceiving = receiveConnections(listeners);
  // The terminal's Ctrl-C reaches the whole process group; the primary answers it with SIGTERM to each worker.
  process.on('SIGINT', () => undefined);
  try {
    const checked = await resolveConfig(location, dataDir);
    const plan = planListeners(checked, { http: requested.http, https: requested.https, proxy: requested.proxy });
    const sharedTokens = sharedTokenLinkFor(checked.config);
    const locations = await openStorageLocations(checked, sharedTokens);
    const logger = pino({ level: process.env.QUAYSIDE_LOG_LEVEL ?? 'info' });
    const metrics = processMetrics();
    const database = await connectDatabase(checked, logger, metrics.database.onQuery);
    let stopSharingTokens: () => void = () => undefined;
    try {
      // The primary applied the migrations; a worker only refuses a schema it does not know.
      await ensureSchema(database, false, () => undefined);
      // Each worker shares the fleet's token through its own connection to the database.
      stopSharingTokens = shareStorageTokens(sharedTokens, database, tokenLog(logger));
      const selfId = process.env[INSTANCE_ID_ENV];
      await serveUntilSignal(checked, { listeners, plan, address: '', locations, database, say: (line) => process.stdout.write(`${line}\n`), logger, metrics, role: 'worker', replicationWorker, ...(selfId !== undefined && { selfId }), ...(sharedTokens && { sharedTokens }) });
    } finally {
      stopSharingTokens();
      await database.close();
    }
  } finally {
    stopReceiving();
    // The IPC channel to the primary would keep this process alive after its work is done (or failed).
    if (process.connected) process.disconnect();
  }
  return 0;
}

/** The shared token cache's outage lines, in the process's log. */
function tokenLog(logger: Logger): { warn(line: string): void; info(line: string): void } {
  return { warn: (line) => logger.warn(line), info: (line) => logger.info(line) };
}

interface Running {
  listeners: ServeListeners;
  plan: ListenerPlan;
  address: string;
  /** Every storage location, in this instance's preference order (the first takes the pushes). */
  locations: StorageLocation[];
  /** Whether this process runs the replication worker (--no-replication, STORAGE_REPLICATION_WORKER). */
  replicationWorker: boolean;
  database: Awaited<ReturnType<typeof connectDatabase>>;
  say: (line: string) => void;
  logger: Logger;
  /** /metrics, where this process serves it (a single process, or the primary). */
  metricsListener?: EarlyListener;
  metrics: ServingMetrics;
  /** This instance in the registry of instances (the primary's; a worker knows only its id, `selfId`). */
  identity?: ReturnType<typeof instanceIdentity>;
  selfId?: string;
  /** The fleet's shared storage token (STORAGE_SWIFT_SHARED_TOKEN), for the stores built on demand too. */
  sharedTokens?: SharedTokenLink;
}

/** The registry of a serving process and the parts registered in it before the app exists. */
interface ServingMetrics {
  registry: MetricsRegistry;
  database: DatabaseMetrics;
}

function processMetrics(): ServingMetrics {
  const registry = createMetricsRegistry();
  // Memory, CPU, event-loop lag and GC of the process (summed or averaged over the workers by the primary).
  collectDefaultMetrics({ register: registry, prefix: 'quayside_' });
  return { registry, database: new DatabaseMetrics(registry) };
}

/** single: the only process, bound its own ports. worker: one of several, fed by the primary. */
type Role = 'single' | 'worker';

/** Resolves with the signal's name on the first SIGTERM (and SIGINT, unless a worker); later ones are ignored. */
function stopRequested(role: Role): Promise<string> {
  return new Promise<string>((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGTERM', onTerm);
      if (role === 'single') process.off('SIGINT', onInt);
      // Keep ignoring repeats: a second signal during the drain must not kill the process mid-request.
      process.on('SIGTERM', () => undefined);
      if (role === 'single') process.on('SIGINT', () => undefined);
      resolve(signal);
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    if (role === 'single') process.on('SIGINT', onInt);
  });
}

function listeningLines(address: string, plan: ListenerPlan, listeners: ServeListeners, metricsListener: EarlyListener | undefined): string[] {
  const shown = address.includes(':') ? `[${address}]` : address;
  const lines: string[] = [];
  if (listeners.http) lines.push(`quayside listening on http://${shown}:${listeners.http.port}`);
  if (listeners.https) lines.push(`quayside listening on https://${shown}:${listeners.https.port}`);
  if (listeners.proxy) lines.push(`quayside listening for PROXY protocol then ${plan.proxyTls ? 'TLS' : 'plain HTTP'} on ${shown}:${listeners.proxy.port}`);
  if (metricsListener) lines.push(`quayside metrics on http://${shown}:${metricsListener.port}/metrics`);
  return lines;
}

/** The lines about what serves: the database, the storage, and the first user to create when there is none. */
async function sayStartup(checked: CheckedConfig, { locations, database, say }: Pick<Running, 'locations' | 'database' | 'say'>): Promise<void> {
  const others = locations.slice(1).map((l) => l.name);
  const fallback = others.length === 0 ? '' : ` (then ${others.join(', ')})`;
  say(`metadata: ${describeDatabase(checked.database)}; blobs: ${locations[0]!.store.kind} storage location "${checked.storage.location}"${fallback}`);
  if ((await createAccountMetadata(database).accounts.listAccounts({ limit: 1 }, 'user')).length === 0) {
    say('no users yet: create the first one with `quayside user create NAME --superuser` (same --data-dir or --config as serve)');
  }
}

/**
 * Threads of each worker's libuv pool, unless UV_THREADPOOL_SIZE is set: sendfile pulls run there, at most one
 * fewer at once than the pool has (src/http/file-body.ts), so eight parallel pulls need more than libuv's 4.
 * Only a new process can get it: libuv starts the pool while Node loads the entry module, before our code.
 */
const WORKER_THREADPOOL_SIZE = 8;

function workerThreadpool(): Record<string, string> {
  return process.env.UV_THREADPOOL_SIZE === undefined ? { UV_THREADPOOL_SIZE: String(WORKER_THREADPOOL_SIZE) } : {};
}

/** The primary of a multi-process `serve`: deals the ports' connections out to the workers until a signal. */
/**
 * The /health reports of a primary that serves no request: the same probes as its workers' (the database, the
 * preferred storage location, Redis when configured, every location when there are several) on its own stores.
 */
function primaryHealth(config: Config, { locations, database, logger }: Pick<Running, 'locations' | 'database' | 'logger'>): { reporter: HealthReporter; close(): Promise<void> } {
  const geo = geoReplicationParts(config, { locations, database, logger, workerEnabled: false });
  const endpoint = redisEndpointFrom(config);
  const redis = endpoint === undefined ? undefined : openRedisConnection(endpoint, { logger });
  const reporter = healthReporter({
    checks: registryChecks({ metadata: createMetadata(database), blobs: geo.store, ...(redis && { redis }) }),
    informational: geo.informationalChecks,
    instancePolicy: healthCheckerFrom(config),
  });
  return { reporter, close: async () => redis?.close() };
}

async function superviseWorkers(
  checked: CheckedConfig,
  { listeners, plan, address, say, logger, metricsListener, workers, relayDelayMs, identity, locations, database }: Running & { workers: number; relayDelayMs: number },
): Promise<void> {
  const ports: Partial<Record<ListenerKind, number>> = {};
  const bound = listeners as BoundListeners;
  for (const kind of ['http', 'https', 'proxy'] as const) if (bound[kind]) ports[kind] = bound[kind].port;
  const env: Record<string, string> = { [WORKER_PORTS_ENV]: JSON.stringify(ports), ...(identity && { [INSTANCE_ID_ENV]: identity.id }), ...workerThreadpool() };
  const pool = new WorkerPool({ count: workers, env, say, stopTimeoutMs: DRAIN_TIMEOUT_MS + 5_000, relayDelayMs });
  for (const kind of ['http', 'https', 'proxy'] as const) bound[kind]?.dispatch((socket) => pool.dispatch(kind, socket));
  const aggregator = new AggregatorRegistry();
  const metrics = metricsListener === undefined ? undefined : await serveMetrics(metricsListener, async () => aggregator.clusterMetrics(), aggregator.contentType, logger);
  const stopping = stopRequested('single');
  try {
    await pool.start();
  } catch (error) {
    await closeListeners(listeners);
    await metrics?.close();
    if (error instanceof WorkerStartError) throw new CliError(error.message);
    throw error;
  }
  // Once per instance, from this process: the workers only read the registry.
  const health = identity && primaryHealth(checked.config, { locations, database, logger });
  const heartbeat = health && identity && startRegistryHeartbeat(checked.config, { database, reporter: health.reporter, identity, logger });
  // The worker line first: whoever waits for a listening line may then read the pids.
  say(`quayside: ${workers} worker processes (${pool.pids().join(', ')})`);
  for (const line of listeningLines(address, plan, listeners, metricsListener)) say(line);
  // SIGHUP re-reads ssl.cert/ssl.key in every worker. Without a certificate SIGHUP keeps its default meaning.
  const reload = () => pool.signal('SIGHUP');
  if (plan.tls) process.on('SIGHUP', reload);
  const signal = await stopping;
  process.off('SIGHUP', reload);
  say(`quayside: ${signal} received, draining`);
  // No port accepts from here; each worker drains its own connections within the drain window. (The ports'
  // close completes only once the workers have closed the connections they were sent.)
  const closed = closeListeners(listeners);
  await pool.stop();
  await closed;
  await heartbeat?.stop();
  await health?.close();
  await metrics?.close();
}

async function serveUntilSignal(checked: CheckedConfig, { listeners, plan, address, locations, database, say, logger, metricsListener, metrics: serving, role, replicationWorker, identity, selfId, sharedTokens }: Running & { role: Role }): Promise<void> {
  const config = checked.config;
  const metrics = serving.registry;
  const geo = geoReplicationParts(config, { locations, database, logger, metrics, workerEnabled: replicationWorker && config.STORAGE_REPLICATION_WORKER });
  const store = geo.store;
  if (database.poolStats) serving.database.watchPool(database.poolStats);
  // A worker's metrics are collected by the primary's /metrics (prom-client's cluster aggregation).
  // (Constructing an AggregatorRegistry is what makes prom-client answer the primary's requests in a worker.)
  if (role === 'worker') {
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([metrics]);
  }
  // The metadata cache, with Redis when configured (docs/redis.md); never waits for Redis.
  const cache = openCache(config, createMetadata(database), { logger, metrics, siblings: role === 'worker' ? siblingInvalidation({ logger, metrics }) : undefined });
  const metadata = cache.metadata;
  const databaseAccounts = createAccountMetadata(database);
  const accounts = cache.accounts({ ...databaseAccounts, throttle: cache.throttle(databaseAccounts.throttle) });
  const audit = new AuditLog(accounts.audit, logger);
  // Pull statistics: counted in Redis or memory, written in batches (docs/redis.md).
  const pulls = openPullStatistics(config, database, { logger, metrics, ...(cache.redis && { sharedRedis: cache.redis }) });
  const auth = buildAuthServices({ accounts, metadata, options: authOptionsFrom(config), audit, log: logger, metrics, ...(pulls && { pullStatistics: pulls.store }) });
  // The first signing key is published before the first request can ask for a token.
  await auth.start();
  const healthDeps = { checks: registryChecks({ metadata, blobs: store, ...(cache.redis && { redis: cache.redis }) }), informational: geo.informationalChecks, instancePolicy: healthCheckerFrom(config) };
  const app = await createApp({
    metadata,
    blobs: store,
    replication: geo.replication,
    informationalChecks: geo.informationalChecks,
    options: registryOptionsFrom(config),
    auth,
    logger,
    edge: edgeOptionsFrom(config, plan, listeners),
    healthPolicy: healthCheckerFrom(config),
    metrics,
    redis: cache.redis,
    ...(pulls && { pulls: pulls.statistics }),
    storageValidation: storageValidationOf(checked, sharedTokens),
    instances: instanceDirectory(config, database, identity?.id ?? selfId),
    replicationSettings: replicationSettingsFrom(config),
  });
  const pullFlush = pulls && startPullStatisticsFlush(pulls.statistics, pulls.flushIntervalMs, logger);
  const limits = connectionLimitsFrom(config);
  const connections = guardConnections(app.server, limits, logger);
  await app.ready();
  // TLS connections that choose h2 by ALPN: sessions whose requests take the same route as HTTP/1's.
  const http2 = createHttp2Sessions({ handler: app.routing.bind(app) as unknown as RequestHandler, guard: connections, limits, logger });
  const edge = await attachListeners({ http1: app.server, http2 }, listeners, plan, logger, new ProxyProtocolMetrics(metrics));
  const metricsServer = metricsListener === undefined ? undefined : await serveMetrics(metricsListener, () => metrics.metrics(), metrics.contentType, logger);
  // The single process is its instance's primary: it beats; a worker leaves that to its primary.
  const heartbeat = role === 'single' && identity !== undefined ? startRegistryHeartbeat(config, { database, reporter: healthReporter(healthDeps), identity, logger }) : undefined;
  if (role === 'single') {
    for (const line of listeningLines(address, plan, listeners, metricsListener)) say(line);
    await sayStartup(checked, { locations, database, say });
  } else {
    process.send?.({ type: 'quayside:ready' } satisfies ReadyMessage);
  }

  // SIGHUP re-reads ssl.cert/ssl.key (a broken pair is refused with one line; the current one stays).
  // Without a certificate SIGHUP keeps its default meaning.
  const tls = edge.tls;
  const reload = () => void tls?.reload();
  if (tls) process.on('SIGHUP', reload);
  const signal = await stopRequested(role);
  if (role === 'single') say(`quayside: ${signal} received, draining`);
  process.off('SIGHUP', reload);
  // No listener accepts from here; in-flight requests may finish within the drain window, then the rest are cut.
  edge.stopAccepting();
  const drainTimer = setTimeout(() => {
    app.server.closeAllConnections();
    http2.destroyAll();
  }, DRAIN_TIMEOUT_MS);
  await Promise.all([app.close(), http2.closed()]);
  // A worker's listeners resolve only when the connections they handed over are gone (see DispatchedListener).
  await closeListeners(listeners);
  clearTimeout(drainTimer);
  edge.close();
  connections.stop();
  await heartbeat?.stop();
  await auth.stop();
  await pullFlush?.stop();
  await pulls?.close();
  await audit.close();
  await store.close?.();
  await cache.close();
  await metricsServer?.close();
}
