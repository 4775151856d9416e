/**
 * HTTP routing as the Kontena Load Balancer does it: host+path routes first, then host-only, then path-only,
 * then the default service. Within a tier longer paths come first, exact hosts before wildcards and longer
 * wildcards before shorter ones, so the most specific route always wins whatever the declaration order.
 */
import type { ServiceModel } from './model.js';

export type RouteTier = 'host+path' | 'host' | 'path' | 'default';

/** One `use_backend` rule of the HTTP frontend. */
export interface Route {
  service: string;
  tier: RouteTier;
  /** Exact host names matched by this route (empty when `wildcard` is set or the route ignores the host). */
  exactHosts: string[];
  /** `*.example.com` routes: the suffix `.example.com`; null otherwise. */
  wildcard: string | null;
  /** Path prefix, null when the route ignores the path. */
  path: string | null;
}

const HOST = /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
// No quote characters: paths end up in HAProxy arguments and regexes.
const PATH = /^\/[A-Za-z0-9._~!$&()*+,;=:@%/-]*$/;

/** Lowercase and check a virtual host (`name.example` or `*.example`); returns an error message or the host. */
export function normaliseHost(raw: string): { ok: true; host: string } | { ok: false; message: string } {
  const host = raw.trim().toLowerCase();
  if (host.includes(':')) return { ok: false, message: `"${raw}": a virtual host has no port (the Host header's port is ignored)` };
  if (!HOST.test(host)) return { ok: false, message: `"${raw}" is not a host name or a *.domain wildcard` };
  return { ok: true, host };
}

/** Check a virtual path prefix and drop trailing slashes (`/api/` and `/api` are the same route). */
export function normalisePath(raw: string): { ok: true; path: string } | { ok: false; message: string } {
  const path = raw.trim();
  if (!PATH.test(path)) return { ok: false, message: `"${raw}" must start with / and contain only URL path characters` };
  if (path.includes('//')) return { ok: false, message: `"${raw}" must not contain //` };
  const trimmed = path.replace(/\/+$/, '');
  return { ok: true, path: trimmed === '' ? '/' : trimmed };
}

const TIER_RANK: Record<RouteTier, number> = { 'host+path': 0, host: 1, path: 2, default: 3 };

function hostRank(route: Route): number {
  // Exact hosts first, then wildcards, the longest suffix (most specific) first.
  if (route.wildcard === null) return route.exactHosts.length > 0 ? 0 : 1;
  return 1 + 1 / (route.wildcard.length + 1);
}

/** The ordered routes of the HTTP frontend (tcp services have none). */
export function computeRoutes(services: readonly ServiceModel[]): Route[] {
  const routes: Route[] = [];
  for (const service of services) {
    if (service.mode !== 'http') continue;
    const exact = service.virtualHosts.filter((h) => !h.startsWith('*.'));
    const wildcards = service.virtualHosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(1));
    const hostGroups: Array<{ exactHosts: string[]; wildcard: string | null }> = [];
    if (exact.length > 0) hostGroups.push({ exactHosts: exact, wildcard: null });
    for (const wildcard of wildcards) hostGroups.push({ exactHosts: [], wildcard });
    const hasHosts = hostGroups.length > 0;
    const hasPaths = service.virtualPaths.length > 0;
    const tier: RouteTier = hasHosts ? (hasPaths ? 'host+path' : 'host') : hasPaths ? 'path' : 'default';
    const groups = hasHosts ? hostGroups : [{ exactHosts: [], wildcard: null }];
    const paths: Array<string | null> = hasPaths ? service.virtualPaths : [null];
    for (const group of groups) {
      for (const path of paths) routes.push({ service: service.name, tier, ...group, path });
    }
  }
  return routes.sort(
    (a, b) =>
      TIER_RANK[a.tier] - TIER_RANK[b.tier] ||
      (b.path?.length ?? 0) - (a.path?.length ?? 0) ||
      hostRank(a) - hostRank(b) ||
      a.service.localeCompare(b.service) ||
      (a.path ?? '').localeCompare(b.path ?? ''),
  );
}

/** A pair of services that claim the same host and path (or both claim to be the default). */
export interface RouteConflict {
  services: [string, string];
  /** `host www.a.test, path /api`, `any host, path /api`, or `default service`. */
  what: string;
}

/** Find services that would compete for the same requests; validation turns each into an error. */
export function findRouteConflicts(services: readonly ServiceModel[]): RouteConflict[] {
  const owners = new Map<string, string>();
  const conflicts: RouteConflict[] = [];
  for (const service of [...services].sort((a, b) => a.name.localeCompare(b.name))) {
    if (service.mode !== 'http') continue;
    const hosts: Array<string | null> = service.virtualHosts.length > 0 ? [...new Set(service.virtualHosts)] : [null];
    const paths: Array<string | null> = service.virtualPaths.length > 0 ? [...new Set(service.virtualPaths)] : [null];
    for (const host of hosts) {
      for (const path of paths) {
        const what =
          host === null && path === null
            ? 'default service (no virtual_hosts and no virtual_paths)'
            : `${host === null ? 'any host' : `host ${host}`}, ${path === null ? 'any path' : `path ${path}`}`;
        const owner = owners.get(what);
        if (owner === undefined) owners.set(what, service.name);
        else if (owner !== service.name) conflicts.push({ services: [owner, service.name], what });
      }
    }
  }
  return conflicts;
}
