import type { FastifyInstance } from 'fastify';
import { repositoryNameProblem } from '../oci/names.js';
import type { AuthServices } from '../auth/services.js';
import { contextFor, sendResult, type Access, type ApiContext, type ApiResult, type HttpMethod, type UserContext } from './context.js';
import { ApiError, badRequest } from './errors.js';
import { repositoryLogRoutes } from './logs.js';
import { parseRepositoryPath, type RepositoryPath, type RepositoryResource } from './paths.js';
import { permissionRoutes } from './permissions.js';
import { repositoryResourceRoutes } from './repositories.js';
import { tagRoutes } from './tags.js';

/**
 * Everything under /repository/<namespace>/<name...>/...: one wildcard route, the path parsed from the
 * right (paths.ts), then one table that names, for each method and resource, who may call it and the
 * handler. The handlers check the repository role themselves, in their first line.
 */

export type RepositoryRouteKey = `${HttpMethod} ${RepositoryResource['kind']}`;

export type RepositoryRoute =
  | { access: 'public'; handler: (ctx: ApiContext, path: RepositoryPath) => Promise<ApiResult> }
  | { access: 'user'; handler: (ctx: UserContext, path: RepositoryPath) => Promise<ApiResult> };

export type RepositoryRouteTable = Partial<Record<RepositoryRouteKey, RepositoryRoute>>;

const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'DELETE'];

/** The repository name of a parsed path, checked: "namespace/name" in the registry's grammar. */
function checkRepositoryName(name: string): void {
  const problem = repositoryNameProblem(name);
  if (problem !== undefined) throw badRequest(problem);
  if (!name.includes('/')) throw badRequest('repository paths are "<namespace>/<name>"');
}

/** Registers /repository/* with the table assembled from the resource files. */
export function repositoryPathRoutes(app: FastifyInstance, services: AuthServices): void {
  const table: RepositoryRouteTable = {
    ...repositoryResourceRoutes,
    ...permissionRoutes,
    ...tagRoutes,
    ...repositoryLogRoutes,
  };
  for (const method of METHODS) {
    app.route({
      method,
      url: '/repository/*',
      handler: async (request, reply) => {
        const rest = (request.params as Record<string, string | undefined>)['*'] ?? '';
        const path = parseRepositoryPath(rest);
        const entry = table[`${method} ${path.resource.kind}`];
        if (entry === undefined) throw new ApiError(405, 'method_not_allowed', `${method} is not supported on this resource`);
        const access: Access = entry.access;
        const ctx = await contextFor(services, request, reply, access);
        checkRepositoryName(path.repository);
        const result = entry.access === 'public' ? await entry.handler(ctx, path) : await entry.handler(ctx as UserContext, path);
        await sendResult(reply, result);
      },
    });
  }
}
