import type { FastifyRequest } from 'fastify';
import type { Page, RepositoryRecord } from '../db/metadata.js';
import type { Identity } from '../auth/identity.js';

/**
 * What a /v2 route needs before its handler runs, declared next to the route in the route table (as Quay's
 * decorators do): nothing, any valid token (the base endpoint), any valid token whose identity then decides
 * what is listed (the catalog), or an action on the route's repository.
 */
export type RouteAccess = 'none' | 'base' | 'catalog' | 'pull' | 'push' | 'delete';

/** The action part of a RouteAccess that names one. */
export type RepositoryRouteAction = Extract<RouteAccess, 'pull' | 'push' | 'delete'>;

/** What an authorized request may do; handed to the handler with the request. */
export interface Grant {
  identity: Identity;
  /** The real client address, for the audit log. */
  clientAddress: string;
  /** Whether the same credentials allow `action` on another repository (the source of a cross-repository mount). */
  allows(name: string, action: RepositoryRouteAction): boolean;
}

/** How the /v2 API asks who may do what; token auth in production (token-access.ts). */
export interface RegistryAccess {
  /**
   * Checks the request's credentials against the route's access for repository `name` ("" when the route has
   * none). Throws RegistryError UNAUTHORIZED (401 with a WWW-Authenticate challenge) or DENIED (403).
   */
  authorize(request: FastifyRequest, access: RouteAccess, name: string): Promise<Grant>;
  /** The repository a push writes to, created with the namespace's rules when it does not exist yet. */
  repositoryForPush(grant: Grant, name: string): Promise<RepositoryRecord>;
  /** Repository names the grant's identity may see, for the catalog. */
  visibleRepositories(grant: Grant, page: Page): Promise<string[]>;
}
