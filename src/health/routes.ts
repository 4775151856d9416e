import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULT_CHECK_TIMEOUT_MS, runHealthChecks, type HealthCheck, type HealthReport } from './checks.js';
import type { InstanceHealthPolicy } from './rds-health.js';

/**
 * Quay's health endpoints and the Docker v1 ping that old clients and load balancers probe (/v1/_ping).
 * As in Quay (health/services.py, instance_skipped_services): /health/instance says whether THIS instance
 * can serve, so it leaves out the shared backends whose outage every instance would report alike (storage,
 * later redis) and a load balancer does not drain the whole fleet for one bucket; /health/endtoend runs every
 * probe, storage included (Quay's _verify marker written and read back in the preferred location).
 */

/** Services /health/instance leaves out, as Quay's LocalHealthCheck.instance_skipped_services. */
export const INSTANCE_SKIPPED_SERVICES: readonly string[] = ['storage', 'redis'];

export interface HealthRouteOptions {
  /** Every probe, by Quay's service name (database, storage, ...). */
  checks: Record<string, HealthCheck>;
  /**
   * /health/endtoend probes that are listed but do not make the answer unhealthy: each storage location as
   * `storage:<name>` (only the preferred ones count, in `storage`, as in Quay). /health/instance leaves them out.
   */
  informational?: Record<string, HealthCheck>;
  timeoutMs?: number;
  /** How /health/instance turns its report into a verdict (HEALTH_CHECKER); default: every probe must pass. */
  instancePolicy?: InstanceHealthPolicy;
}

/** The body Quay answers health probes with. */
export interface HealthBody {
  data: { services: Record<string, boolean> };
  status_code: 200 | 503;
}

/** Registers the health endpoints and /v1/_ping. */
export function healthRoutes(options: HealthRouteOptions): FastifyPluginAsync {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const instanceChecks = Object.fromEntries(Object.entries(options.checks).filter(([name]) => !INSTANCE_SKIPPED_SERVICES.includes(name)));
  const asReported = async (report: HealthReport) => report;
  const informational = options.informational ?? {};
  const respond = (checks: Record<string, HealthCheck>, decide: InstanceHealthPolicy = asReported, listed = false) => async (request: FastifyRequest, reply: FastifyReply) => {
    const [verdict, extra] = await Promise.all([
      runHealthChecks(checks, timeoutMs).then(decide),
      listed ? runHealthChecks(informational, timeoutMs) : undefined,
    ]);
    let report = verdict;
    if (extra !== undefined) {
      if (!extra.healthy) request.log.warn({ failures: extra.failures }, 'health: a storage location that is not preferred failed');
      report = { ...report, services: { ...report.services, ...extra.services } };
    }
    if (!report.healthy) request.log.warn({ failures: report.failures }, 'health check failed');
    const status = report.healthy ? 200 : 503;
    const body: HealthBody = { data: { services: report.services }, status_code: status };
    await reply.code(status).header('Cache-Control', 'no-store').type('application/json').send(body);
  };

  return async function health(instance: FastifyInstance): Promise<void> {
    instance.get('/health/instance', respond(instanceChecks, options.instancePolicy));
    instance.get('/health/endtoend', respond(options.checks, asReported, true));
    instance.get('/v1/_ping', async (_request, reply) => {
      await reply
        .code(200)
        .header('X-Docker-Registry-Version', '0.6.0')
        .header('X-Docker-Registry-Standalone', '0')
        // Exactly Quay's header: Fastify appends a charset to JSON types unless the payload is a Buffer.
        .header('Content-Type', 'application/json')
        .send(Buffer.from('true'));
    });
  };
}
