import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULT_CHECK_TIMEOUT_MS, runHealthChecks, type HealthCheck } from './checks.js';

/**
 * Quay's health endpoints (/health/instance, /health/endtoend) and the Docker v1 ping that old
 * clients and load balancers probe (/v1/_ping).
 */

export interface HealthRouteOptions {
  /** Probes of this instance's own dependencies. */
  instanceChecks: Record<string, HealthCheck>;
  /** Probes for the whole path a request takes; defaults to instanceChecks. */
  endToEndChecks?: Record<string, HealthCheck>;
  timeoutMs?: number;
}

/** The body Quay answers health probes with. */
export interface HealthBody {
  data: { services: Record<string, boolean> };
  status_code: 200 | 503;
}

/** Registers the health endpoints and /v1/_ping. */
export function healthRoutes(options: HealthRouteOptions): FastifyPluginAsync {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const respond = (checks: Record<string, HealthCheck>) => async (request: FastifyRequest, reply: FastifyReply) => {
    const report = await runHealthChecks(checks, timeoutMs);
    if (!report.healthy) request.log.warn({ failures: report.failures }, 'health check failed');
    const status = report.healthy ? 200 : 503;
    const body: HealthBody = { data: { services: report.services }, status_code: status };
    await reply.code(status).header('Cache-Control', 'no-store').type('application/json').send(body);
  };

  return async function health(instance: FastifyInstance): Promise<void> {
    instance.get('/health/instance', respond(options.instanceChecks));
    instance.get('/health/endtoend', respond(options.endToEndChecks ?? options.instanceChecks));
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
