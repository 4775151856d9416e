import type { FastifyInstance } from 'fastify';
import { repositoryNameProblem } from '../oci/names.js';
import type { AuthServices } from '../auth/services.js';
import { enforceRepositoryAccess, type ContextByAccess, type RepositoryAccess } from './access.js';
import { sendResult, type ApiResult } from './context.js';
import { ApiError, badRequest } from './errors.js';
import { repositoryLogRoutes } from './logs.js';
import { manifestRoutes } from './manifests.js';
import { parseRepositoryPath, type RepositoryPath, type RepositoryResource } from './paths.js';
import { permissionRoutes } from './permissions.js';
import { pullStatisticsRoutes } from './pull-statistics.js';
import { repositoryResourceRoutes } from './repositories.js';
import { callerContext, type HttpMethod } from './route.js';
import { tagRoutes } from './tags.js';

/**
 * Everything under /repository/<namespace>/<name...>/...: one wildcard route, the path parsed from the
 * right (paths.ts), then one table that names, for each method and resource, the role on the repository
 * it requires and the handler. The role is checked before the handler runs, which gets the repository.
 */

export type RepositoryRouteKey = `${HttpMethod} ${RepositoryResource['kind']}`;

/** One entry of the table: the role it requires, and a handler that receives the repository. */
export type RepositoryRoute = {
  [A in RepositoryAccess]: { access: A; handler: (ctx: ContextByAccess[A], path: RepositoryPath) => Promise<ApiResult> };
}[RepositoryAccess];

export type RepositoryRouteTable = Partial<Record<RepositoryRouteKey, RepositoryRoute>>;

const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'DELETE'];

/** The whole /repository/{repo}/... table, assembled from the resource files. */
export const REPOSITORY_ROUTES: RepositoryRouteTable = {
  ...repositoryResourceRoutes,
  ...permissionRoutes,
  ...tagRoutes,
  ...repositoryLogRoutes,
  ...manifestRoutes,
  ...pullStatisticsRoutes,
};

/** The repository name of a parsed path, checked: "namespace/name" in the registry's grammar. */
function checkRepositoryName(name: string): void {
  const problem = repositoryNameProblem(name);
  if (problem !== undefined) throw badRequest(problem);
  if (!name.includes('/')) throw badRequest('repository paths are "<namespace>/<name>"');
}

/** Runs one entry: its declared role on the path's repository, then its handler. */
async function runEntry(entry: RepositoryRoute, ctx: ContextByAccess['public'], path: RepositoryPath): Promise<ApiResult> {
  // One case per level so the compiler pairs each handler with the context its own declaration guarantees.
  switch (entry.access) {
    case 'repository:read':
      return entry.handler(await enforceRepositoryAccess(ctx, entry.access, path.repository), path);
    case 'repository:write':
      return entry.handler(await enforceRepositoryAccess(ctx, entry.access, path.repository), path);
    case 'repository:admin':
      return entry.handler(await enforceRepositoryAccess(ctx, entry.access, path.repository), path);
  }
}

/** Registers /repository/* over REPOSITORY_ROUTES. */
export function repositoryPathRoutes(app: FastifyInstance, services: AuthServices): void {
  for (const method of METHODS) {
    app.route({
      method,
      url: '/repository/*',
      config: { apiAccess: 'per-resource' },
      handler: async (request, reply) => {
        const rest = (request.params as Record<string, string | undefined>)['*'] ?? '';
        const path = parseRepositoryPath(rest);
        const entry = REPOSITORY_ROUTES[`${method} ${path.resource.kind}`];
        if (entry === undefined) throw new ApiError(405, 'method_not_allowed', `${method} is not supported on this resource`);
        const ctx = await callerContext(services, request, reply, entry.access);
        checkRepositoryName(path.repository);
        await sendResult(reply, await runEntry(entry, ctx, path));
      },
    });
  }
}
