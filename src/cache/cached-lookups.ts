import { Counter } from 'prom-client';
import type { MetricsRegistry } from '../metrics/registry.js';
import type { LocalCache } from './local-cache.js';

/** Entry lifetimes (docs/redis.md): long while invalidations arrive over Redis, short while they cannot. */
export interface CacheTtls {
  /** While subscribed to the invalidation channel: bounds staleness only if a message is lost in flight. */
  listeningMs: number;
  /** Without Redis (down or not configured): the bound on staleness across instances. */
  aloneMs: number;
}

export const DEFAULT_CACHE_TTLS: CacheTtls = { listeningMs: 30_000, aloneMs: 3_000 };

export interface CachingDeps {
  cache: LocalCache;
  /** Whether invalidations from other instances currently arrive. */
  listening: () => boolean;
  /** Tells the other instances (and this one) that `group` changed. */
  invalidate: (group: string) => void;
  /**
   * Tells the other worker processes of this instance that `groups` changed; resolves once they have dropped
   * them (bounded). Absent with one process: a write then waits for nothing.
   */
  reachSiblings?: (groups: readonly string[]) => Promise<void>;
  ttls?: CacheTtls;
  metrics?: MetricsRegistry;
  /** The clock tag expiries are compared with (the metadata's; tests inject one). */
  now?: () => number;
}

/** When a cached tag or tagged manifest stops being true by itself: the tag's expiry (null: never). */
function expiryOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const end = 'tagLifetimeEnd' in value ? value.tagLifetimeEnd : 'lifetimeEnd' in value ? value.lifetimeEnd : undefined;
  return end instanceof Date ? end.getTime() : undefined;
}

/** How a lookup may be kept (see cachedLookups). */
export interface LookupOptions<T> {
  /** Never cached while no invalidation can arrive (Redis down or not configured). */
  onlyWhileListening?: boolean;
  /** Whether a cached value is good enough for this caller; when not, the database answers and replaces it. */
  accept?: (value: NonNullable<T>) => boolean;
}

/** The two moves every cached store is made of: a lookup kept in a group, a write that invalidates groups. */
export interface CachedLookups {
  /** `load`'s answer for `key`, from memory when kept there; `what` labels the hit and miss counters. */
  cached<T>(what: string, key: string, group: string, load: () => Promise<T>, options?: LookupOptions<T>): Promise<T>;
  /**
   * Runs `write`, then invalidates `groups` here and on every instance, whether or not the write threw; settles
   * once the other workers of this instance have dropped them too.
   */
  writing<T>(groups: readonly string[], write: () => Promise<T>): Promise<T>;
}

/** The lookups of one process's cache; one per cache (the hit and miss counters are registered here once). */
export function cachedLookups(deps: CachingDeps): CachedLookups {
  const ttls = deps.ttls ?? DEFAULT_CACHE_TTLS;
  const now = deps.now ?? Date.now;
  const hits = deps.metrics
    ? new Counter({ name: 'quayside_cache_hits_total', help: 'Metadata lookups answered from the cache', labelNames: ['what'], registers: [deps.metrics] })
    : undefined;
  const misses = deps.metrics
    ? new Counter({ name: 'quayside_cache_misses_total', help: 'Metadata lookups that went to the database', labelNames: ['what'], registers: [deps.metrics] })
    : undefined;

  // Two things are never cached:
  // - an absence: a repository or tag created on another instance must be found there at once (a push whose
  //   chunks reach two instances, or a pull right after a push through a balancer), not after a TTL;
  // - a repository while no invalidation can arrive (Redis down or not configured): its visibility and its very
  //   existence decide who may pull, so a repository made private or deleted elsewhere must count on the next
  //   request. Its tags and manifests may still be cached briefly: they are reached only through it.
  // `accept` may refuse an entry that is still valid but not good enough for this caller (a blob HEAD needs a
  // link held recently enough); the database then answers and its answer replaces the entry.
  const cached: CachedLookups['cached'] = async <T>(
    what: string,
    key: string,
    group: string,
    load: () => Promise<T>,
    options: LookupOptions<T> = {},
  ): Promise<T> => {
    if (options.onlyWhileListening === true && !deps.listening()) {
      misses?.inc({ what });
      return load();
    }
    const found = deps.cache.get(key);
    // A tag that expired while cached is gone: its expiry, not an invalidation, ended it (no write happened).
    const foundExpiry = found === undefined ? undefined : expiryOf(found.value);
    if (found !== undefined && (foundExpiry === undefined || foundExpiry > now()) && (options.accept?.(found.value as NonNullable<T>) ?? true)) {
      hits?.inc({ what });
      return found.value as T;
    }
    misses?.inc({ what });
    const ticket = deps.cache.ticket(group);
    const value = await load();
    if (value !== undefined && value !== null) {
      const ttl = deps.listening() ? ttls.listeningMs : ttls.aloneMs;
      const expiry = expiryOf(value);
      deps.cache.set(key, group, value, expiry === undefined ? ttl : Math.min(ttl, expiry - now()), ticket);
    }
    return value;
  };
  // The write first, then the invalidation: a reader that loads between the two stores a value the
  // invalidation then drops (its ticket is stale), so no instance keeps the old answer. The sibling workers are
  // waited for (other instances are not: their bound is docs/redis.md's): until they have dropped the groups,
  // the client that made the write must not get its answer, since its next request may reach any of them.
  const reachSiblings = deps.reachSiblings;
  const writing: CachedLookups['writing'] = async <T>(groups: readonly string[], write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } finally {
      for (const group of groups) deps.invalidate(group);
      if (reachSiblings !== undefined) await reachSiblings(groups);
    }
  };

  return { cached, writing };
}
