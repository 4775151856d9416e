import type { ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { LoggerOptions } from 'pino';
import type { Metadata } from '../db/metadata.js';
import { apiPlugin } from '../api/plugin.js';
import type { InstanceDirectory, StorageValidation } from '../api/superuser.js';
import type { AuthServices } from '../auth/services.js';
import { tokenEndpoint } from '../auth/token-endpoint.js';
import type { RegistryAccess } from '../registry/access.js';
import { TokenAccess } from '../registry/token-access.js';
import { registryChecks, type HealthCheck } from '../health/checks.js';
import { healthRoutes } from '../health/routes.js';
import type { InstanceHealthPolicy } from '../health/rds-health.js';
import { clientAddress } from '../net/client-address.js';
import { installEdgeHooks, type EdgeOptions } from './edge-hooks.js';
import type { BlobsReferencedHook, RegistryDeps, RegistryOptions } from '../registry/context.js';
import { failureOf, recordFailure } from '../http/failures.js';
import { refusalOf, registryPlugin, sendOciError } from '../registry/plugin.js';
import { matchRoute, parseV2Path } from '../registry/routes.js';
import { RegistryError } from '../registry/errors.js';
import { pathOf } from '../http/url.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { ReplicationSettings } from '../storage/required-locations.js';
import { startUploadPurge } from '../workers/upload-purge.js';
import type { PullRecorder } from '../stats/pull-recorder.js';
import { startGarbageCollection } from '../workers/garbage-collection.js';
import { gcMetricsIn } from '../gc/metrics.js';
import { startAccountCleanup } from '../workers/account-cleanup.js';
import { webUiPlugin, type WebUiOptions } from '../web/ui-routes.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import { HttpMetrics } from '../metrics/http-metrics.js';
import { noteStreamedBytes } from '../http/buffer-churn.js';
import { bytesSentDirectly, directSendSettled } from '../http/file-body.js';
import { bodiesInProgress, streamedBodyBytes } from '../registry/body.js';

/** What the application is built from; tests build their own. */
export interface AppDeps {
  metadata: Metadata;
  blobs: BlobStore;
  options: RegistryOptions;
  /** Accounts, tokens, permissions and the audit log (src/auth/auth-services.ts builds them). */
  auth: AuthServices;
  /**
   * How /v2 decides who may do what: token auth on `auth` unless given. Tests of OCI behaviour that are not
   * about auth pass their own.
   */
  access?: RegistryAccess;
  /** A pino logger to use as is, or pino options for Fastify to build one (false: silent). */
  logger: FastifyBaseLogger | LoggerOptions | boolean;
  /** Bound on each health probe (default 3 s). */
  healthTimeoutMs?: number;
  /** HEALTH_CHECKER's verdict on /health/instance (src/health/rds-health.ts); default: every probe must pass. */
  healthPolicy?: InstanceHealthPolicy;
  /** Trusted proxies and the https redirect (src/server/edge-hooks.ts); none: socket addresses, no redirect. */
  edge?: EdgeOptions;
  /** The web UI at / (src/web/): its build directory (default dist/web); false leaves it out. */
  webUi?: WebUiOptions | false;
  /** Where the app's Prometheus metrics are registered (src/metrics/); none: nothing is counted. */
  metrics?: MetricsRegistry;
  /** The Redis connection when one is configured (src/redis/): probed by /health/endtoend only. */
  redis?: { ping(): Promise<void> };
  /** Where manifest pulls are counted (src/stats/); none: not counted. */
  pulls?: PullRecorder;
  /** The configured storage locations and their `_verify` check, for the superuser status page (src/api/superuser.ts). */
  storageValidation?: StorageValidation;
  /** The registry of serving instances, for the superuser status page (src/cli/instance-registry.ts). */
  instances?: InstanceDirectory;
  /** Geo-replication's settings, for the superuser API of a namespace's own storage locations; none: off. */
  replicationSettings?: ReplicationSettings;
  /**
   * Geo-replication (docs/geo-replication.md): queues the copies pushed manifests need, and its worker runs
   * from onReady to onClose like the other background workers; none: off.
   */
  replication?: BlobsReferencedHook & { startWorker?: () => { stop(): Promise<void> } };
  /** More /health/endtoend probes whose failure does not make the instance unhealthy (non-preferred locations). */
  informationalChecks?: Record<string, HealthCheck>;
}

function isLoggerInstance(logger: AppDeps['logger']): logger is FastifyBaseLogger {
  return typeof logger === 'object' && typeof (logger as Partial<FastifyBaseLogger>).child === 'function';
}

// Repository names are at most 255 characters, but a route parameter must never be the reason for a 404.
const MAX_PARAM_LENGTH = 8192;

interface RequestTiming {
  startedAt: bigint;
  bytes: () => number;
  /** Read when the request starts: a peer that hangs up first (a health checker) leaves no address behind. */
  client: string;
}

const timings = new WeakMap<FastifyRequest, RequestTiming>();

function chunkSize(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

/**
 * Counts the body bytes written to a response (streams included, whatever Content-Length said), and those a
 * blob response sent with sendfile (src/http/file-body.ts), which never pass res.write.
 */
function countBodyBytes(res: ServerResponse): () => number {
  let bytes = 0;
  const write = res.write;
  const end = res.end;
  res.write = function countingWrite(this: ServerResponse, ...args: unknown[]): boolean {
    const size = chunkSize(args[0], args[1]);
    bytes += size;
    // A streamed blob's read buffers die once written: see buffer-churn.ts for why they are counted.
    noteStreamedBytes(size);
    return Reflect.apply(write, this, args) as boolean;
  } as ServerResponse['write'];
  res.end = function countingEnd(this: ServerResponse, ...args: unknown[]): ServerResponse {
    if (typeof args[0] !== 'function') bytes += chunkSize(args[0], args[1]);
    return Reflect.apply(end, this, args) as ServerResponse;
  } as ServerResponse['end'];
  return () => bytes + (bytesSentDirectly(res) ?? 0);
}

function startTiming(request: FastifyRequest, reply: FastifyReply): void {
  if (!timings.has(request)) {
    timings.set(request, { startedAt: process.hrtime.bigint(), bytes: countBodyBytes(reply.raw), client: clientAddress(request.raw) });
  }
}

/** The route template of a request, for metrics labels: never the raw URL (its cardinality is unbounded). */
function routeTemplate(request: FastifyRequest): string {
  const path = pathOf(request.url);
  const v2 = path === '/v2' || path.startsWith('/v2/') ? parseV2Path(path) : undefined;
  return v2?.pattern ?? request.routeOptions.url ?? '(no route)';
}

/** Requests whose line is written: a response can both fail ('error', Fastify's onResponse) and close. */
const logged = new WeakSet<FastifyRequest>();

/**
 * nginx's "client closed request": the status a cut response is logged with when the connection closed before
 * any status line went out. Once one did, the line keeps that status and says `cut: true`.
 */
const CLIENT_CLOSED_REQUEST = 499;

/** Writes the one JSON line of a finished (or cut) request, and counts it in the metrics. */
function logRequest(request: FastifyRequest, reply: FastifyReply, metrics?: HttpMetrics): void {
  if (logged.has(request)) return;
  logged.add(request);
  const cut = !reply.raw.writableFinished;
  const status = cut && !reply.raw.headersSent ? CLIENT_CLOSED_REQUEST : reply.statusCode;
  const timing = timings.get(request);
  const durationMs = timing === undefined ? 0 : Number(process.hrtime.bigint() - timing.startedAt) / 1e6;
  if (metrics !== undefined) {
    const route = routeTemplate(request);
    metrics.observe({
      method: request.method,
      route,
      status,
      durationS: durationMs / 1000,
      bytesIn: streamedBodyBytes(request.raw),
      bytesOut: request.method === 'GET' && route === BLOB_ROUTE ? (timing?.bytes() ?? 0) : 0,
      bytesSentDirectly: bytesSentDirectly(reply.raw),
      cut,
    });
  }
  const line: Record<string, unknown> = {
    method: request.method,
    url: request.url,
    status,
    bytes: request.method === 'HEAD' ? 0 : (timing?.bytes() ?? 0),
    durationMs: Math.round(durationMs * 1000) / 1000,
    client: timing?.client ?? clientAddress(request.raw),
  };
  if (cut) line.cut = true;
  const refusal = refusalOf(request);
  if (refusal !== undefined) line.error = refusal;
  const failure = failureOf(request);
  if (failure !== undefined) {
    request.log.error({ ...line, err: failure }, 'request failed');
  } else {
    request.log.info(line, 'request');
  }
}

/**
 * Logs a request whose connection closes before its response is complete: Fastify's onResponse waits for
 * 'finish', which a response the client cut (a pull given up mid-blob) never emits.
 */
function logWhenCut(request: FastifyRequest, reply: FastifyReply, metrics?: HttpMetrics): void {
  reply.raw.once('close', () => {
    if (reply.raw.writableFinished) return;
    // A sendfile call in flight when the client left reports the bytes it moved when it returns.
    void directSendSettled(reply.raw).then(() => logRequest(request, reply, metrics));
  });
}

/** One JSON line per request, written when the response is done or cut; replaces Fastify's two request lines. */
function installRequestLog(app: FastifyInstance, metrics?: HttpMetrics): void {
  app.addHook('onRequest', async (request, reply) => {
    startTiming(request, reply);
    logWhenCut(request, reply, metrics);
  });
  app.addHook('onResponse', async (request, reply) => logRequest(request, reply, metrics));
}

const BLOB_ROUTE = '/v2/<name>/blobs/<digest>';

/** Errors outside /v2 (health, later /api/v1): plain JSON, internals never shown. */
async function rootErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (pathOf(request.url).startsWith('/v2')) {
    await sendOciError(request, reply, error);
    return;
  }
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    await reply.code(status).send({ error: error instanceof Error ? error.message : 'bad request' });
    return;
  }
  recordFailure(request, error);
  await reply.code(500).send({ error: 'internal server error' });
}

/**
 * Errors Fastify raises before routing (a URL it cannot percent-decode). On /v2 the router's own
 * validation names the bad part (NAME_INVALID, DIGEST_INVALID, ...), as for any other bad input.
 */
async function frameworkErrorHandler(
  deps: RegistryDeps,
  error: Error,
  request: FastifyRequest,
  reply: FastifyReply,
  frameworkMetrics: HttpMetrics | undefined,
): Promise<void> {
  // Fastify skips the request hooks for these, so the log line is written here.
  startTiming(request, reply);
  reply.raw.once('finish', () => logRequest(request, reply, frameworkMetrics));
  logWhenCut(request, reply, frameworkMetrics);
  const path = pathOf(request.url);
  if (path === '/v2' || path.startsWith('/v2/')) {
    let problem: unknown = error;
    try {
      matchRoute(request.method, request.url, deps.options);
    } catch (routeProblem) {
      problem = routeProblem;
    }
    await sendOciError(request, reply, problem);
    return;
  }
  await reply.code(400).send({ error: 'malformed URL' });
}

/** The composition root: builds the whole HTTP application from its dependencies. Not yet listening. */
export async function createApp(deps: AppDeps): Promise<FastifyInstance> {
  // Filled in once the app (and so its logger) exists; Fastify calls frameworkErrors only for requests.
  let registryDeps: RegistryDeps | undefined;
  const httpMetrics = deps.metrics === undefined ? undefined : new HttpMetrics(deps.metrics, bodiesInProgress);
  const app = Fastify({
    ...(isLoggerInstance(deps.logger) ? { loggerInstance: deps.logger } : { logger: deps.logger }),
    // The onResponse hook below writes the one line per request.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    trustProxy: false,
    // Applies only to the JSON routes outside /v2; /v2 bodies are streams read by their handlers.
    bodyLimit: 1024 * 1024,
    frameworkErrors: (error, request, reply) => {
      // registryDeps is set right below, long before the first request can arrive.
      if (registryDeps !== undefined) {
        const req = request as unknown as FastifyRequest;
        const res = reply as unknown as FastifyReply;
        frameworkErrorHandler(registryDeps, error, req, res, httpMetrics).catch((failure: unknown) => {
          req.log.error({ err: failure }, 'could not answer a malformed request');
          res.raw.destroy();
        });
      }
    },
  }) as unknown as FastifyInstance;

  registryDeps = {
    metadata: deps.metadata,
    blobs: deps.blobs,
    options: deps.options,
    access: deps.access ?? new TokenAccess(deps.auth),
    audit: deps.auth.audit,
    log: app.log,
    ...(deps.pulls && { pulls: deps.pulls }),
    ...(deps.replication && { replication: deps.replication }),
  };

  // First: the request log and everything after it see the real client address.
  installEdgeHooks(app, deps.edge ?? { trustedProxies: [] });
  installRequestLog(app, httpMetrics);
  // A change's audit row is in the database before the response that acknowledges the change (docs/auth.md).
  app.addHook('onSend', async (_request, _reply, payload) => {
    await deps.auth.audit.durable();
    return payload;
  });
  app.setErrorHandler(rootErrorHandler);
  app.setNotFoundHandler(async (request, reply) => {
    const path = pathOf(request.url);
    if (path === '/v2' || path.startsWith('/v2/')) {
      await sendOciError(request, reply, new RegistryError('NOT_FOUND', `no route for ${request.method} ${path.slice(0, 300)}`));
      return;
    }
    await reply.code(404).send({ error: 'not found' });
  });

  // Graceful drain: once closing, a keep-alive connection is ended as soon as its in-flight response
  // is done, instead of lingering until the keep-alive timeout holds close() up for a minute.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onResponse', async (request) => {
    if (closing) request.raw.socket?.end();
  });

  const depsForWorkers = registryDeps;
  let workers: { stop(): Promise<void> }[] = [];
  app.addHook('onReady', async () => {
    workers = [startUploadPurge(depsForWorkers), startAccountCleanup(deps.auth.accounts, app.log)];
    const replicationWorker = deps.replication?.startWorker?.();
    if (replicationWorker !== undefined) workers.push(replicationWorker);
    const gc = depsForWorkers.options.gc;
    if (gc !== undefined) {
      const metrics = deps.metrics === undefined ? undefined : gcMetricsIn(deps.metrics);
      workers.push(startGarbageCollection(depsForWorkers.metadata, depsForWorkers.blobs, app.log, { ...gc, ...(metrics && { metrics }) }));
    }
  });
  app.addHook('onClose', async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    workers = [];
  });

  await app.register(healthRoutes({ checks: registryChecks(deps), informational: deps.informationalChecks, timeoutMs: deps.healthTimeoutMs, instancePolicy: deps.healthPolicy }));
  await app.register(tokenEndpoint(deps.auth));
  await app.register(apiPlugin(deps.auth, { storage: deps.storageValidation, instances: deps.instances, replication: deps.replicationSettings }), { prefix: '/api/v1' });
  await app.register(registryPlugin(registryDeps));
  if (deps.webUi !== false) await app.register(webUiPlugin(deps.webUi ?? {}));
  return app;
}
