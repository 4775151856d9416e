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

/** The two reports behind /health/instance and /health/endtoend, for the routes and the instance heartbeat. */
export interface HealthReporter {
  /** /health/instance: the probes of this instance only, judged by HEALTH_CHECKER. */
  instance(): Promise<HealthReport>;
  /** /health/endtoend: every probe; `informationalFailures` names the non-preferred locations that failed. */
  endtoend(): Promise<HealthReport & { informationalFailures?: Record<string, string> }>;
}

/** Builds the reports from the route options (the same probes, the same verdict, wherever they are asked for). */
export function healthReporter(options: HealthRouteOptions): HealthReporter {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const instanceChecks = Object.fromEntries(Object.entries(options.checks).filter(([name]) => !INSTANCE_SKIPPED_SERVICES.includes(name)));
  const informational = options.informational ?? {};
  const policy: InstanceHealthPolicy = options.instancePolicy ?? (async (report) => report);
  return {
    instance: () => runHealthChecks(instanceChecks, timeoutMs).then(policy),
    endtoend: async () => {
      const [verdict, extra] = await Promise.all([runHealthChecks(options.checks, timeoutMs), runHealthChecks(informational, timeoutMs)]);
      return {
        ...verdict,
        services: { ...verdict.services, ...extra.services },
        ...(extra.healthy ? {} : { informationalFailures: extra.failures }),
      };
    },
  };
}

/** Registers the health endpoints and /v1/_ping. */
export function healthRoutes(options: HealthRouteOptions): FastifyPluginAsync {
  const reporter = healthReporter(options);
  const respond = (which: 'instance' | 'endtoend') => async (request: FastifyRequest, reply: FastifyReply) => {
    const report = which === 'instance' ? await reporter.instance() : await reporter.endtoend();
    if ('informationalFailures' in report && report.informationalFailures !== undefined) {
      request.log.warn({ failures: report.informationalFailures }, 'health: a storage location that is not preferred failed');
    }
    if (!report.healthy) request.log.warn({ failures: report.failures }, 'health check failed');
    const status = report.healthy ? 200 : 503;
    const body: HealthBody = { data: { services: report.services }, status_code: status };
    await reply.code(status).header('Cache-Control', 'no-store').type('application/json').send(body);
  };

  return async function health(instance: FastifyInstance): Promise<void> {
    instance.get('/health/instance', respond('instance'));
    instance.get('/health/endtoend', respond('endtoend'));
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
