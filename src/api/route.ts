import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthServices } from '../auth/services.js';
import { checkCaller, enforceRouteAccess, type Access, type ContextByAccess, type RouteAccess } from './access.js';
import { contextFor, sendResult, type ApiContext, type ApiResult } from './context.js';
import { checkCrossSiteGuard } from './session.js';

/**
 * Registering /api/v1 routes. Each one declares its access next to its method and path; the declaration
 * travels in the Fastify route's config, where the plugin refuses any route that lacks one and the tests
 * read the whole table.
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The access an /api/v1 route declares; 'per-resource' for the /repository/* table (see repository-routes). */
    apiAccess?: Access | 'per-resource';
  }
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteSpec<A extends RouteAccess> {
  method: HttpMethod;
  /** One path, or several (e.g. with and without Quay's trailing slash). */
  url: string | readonly string[];
  access: A;
  handler: (ctx: ContextByAccess[A]) => Promise<ApiResult>;
}

/**
 * The context of a request to a route of `access`: the caller is resolved and checked, then the cross-site
 * guard, in that order for every route, so a refusal says the same thing whatever the resource.
 */
export async function callerContext(services: AuthServices, request: FastifyRequest, reply: FastifyReply, access: Access): Promise<ApiContext> {
  const ctx = await contextFor(services, request, reply);
  checkCaller(ctx, access);
  checkCrossSiteGuard(request, ctx.via);
  return ctx;
}

/** Registers one route: its access is enforced before the handler runs, then the handler's result is sent. */
export function route<A extends RouteAccess>(app: FastifyInstance, services: AuthServices, spec: RouteSpec<A>): void {
  const urls = typeof spec.url === 'string' ? [spec.url] : spec.url;
  for (const url of urls) {
    app.route({
      method: spec.method,
      url,
      config: { apiAccess: spec.access },
      handler: async (request, reply) => {
        const ctx = await callerContext(services, request, reply, spec.access);
        const result = await spec.handler(await enforceRouteAccess(ctx, spec.access));
        await sendResult(reply, result);
      },
    });
  }
}

/** Quay's paths with a trailing slash also answer without it. */
export function slashed(path: string): string[] {
  return [path, path.replace(/\/$/, '')];
}
