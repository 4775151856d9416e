import { Counter } from 'prom-client';
import type { Logger } from 'pino';
import type { MetricsRegistry } from '../metrics/registry.js';
import { isInvalidatedMessage, isInvalidateMessage, type InvalidatedMessage, type InvalidateMessage } from './messages.js';

/**
 * How long a write waits for the other workers to drop what it changed before it is answered anyway. The round
 * trip takes well under a millisecond; only a worker that is stopped, or a primary starved of CPU for this long,
 * reaches the bound (a worker that dies is replaced with an empty cache, so it releases the wait at once).
 */
export const SIBLING_ACK_TIMEOUT_MS = 1_000;

/** What the cache needs to tell the other workers of this instance about a write, and to hear theirs. */
export interface SiblingInvalidation {
  /**
   * Tells every other worker that `groups` changed; resolves once each has dropped them (so a request that
   * reaches any of them after this sees the write), or after SIBLING_ACK_TIMEOUT_MS. Never rejects.
   */
  publish(groups: readonly string[]): Promise<void>;
  /** Calls `onInvalidate` for each group another worker changed, then acknowledges; returns the function that stops it. */
  subscribe(onInvalidate: (group: string) => void): () => void;
}

export interface SiblingInvalidationOptions {
  logger?: Pick<Logger, 'warn'>;
  metrics?: MetricsRegistry;
  /** Default SIBLING_ACK_TIMEOUT_MS. */
  timeoutMs?: number;
}

/**
 * Invalidations between the workers of one `serve`, through the primary (src/cluster/worker-pool.ts relays them
 * and collects the acknowledgements). Unlike Redis pub/sub this channel has no gaps: it lives as long as the
 * worker. And unlike Redis it is waited for: the write is answered only once every sibling has applied it, so
 * without Redis a tag moved through one worker is seen by the next request through any other, on a fresh
 * connection or on a keep-alive one it already holds (docs/workers.md, "Caches").
 */
export function siblingInvalidation(options: SiblingInvalidationOptions = {}): SiblingInvalidation {
  const timeoutMs = options.timeoutMs ?? SIBLING_ACK_TIMEOUT_MS;
  const timeouts = options.metrics
    ? new Counter({
        name: 'quayside_cache_sibling_timeouts_total',
        help: 'Writes answered before every other worker acknowledged their cache invalidation (after the bound)',
        registers: [options.metrics],
      })
    : undefined;
  /** Invalidations sent and not yet acknowledged, by id: each settles its write's wait. */
  const pending = new Map<number, () => void>();
  let nextId = 0;
  // Listened to only while something waits: an idle worker keeps no listener of its own on the channel.
  const onMessage = (message: unknown) => {
    if (isInvalidatedMessage(message)) pending.get(message.id)?.();
  };
  const onDisconnect = () => {
    for (const settle of [...pending.values()]) settle();
  };
  const track = (id: number, settle: () => void) => {
    if (pending.size === 0) {
      process.on('message', onMessage);
      process.on('disconnect', onDisconnect);
    }
    pending.set(id, settle);
  };
  const untrack = (id: number) => {
    if (!pending.delete(id) || pending.size > 0) return;
    process.off('message', onMessage);
    process.off('disconnect', onDisconnect);
  };

  return {
    publish(groups) {
      const send = process.send?.bind(process);
      if (!process.connected || send === undefined) return Promise.resolve();
      const id = nextId++;
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          untrack(id);
          timeouts?.inc();
          options.logger?.warn({ groups, timeoutMs }, 'cache invalidation not acknowledged by every other worker in time; the write is answered anyway');
          resolve();
        }, timeoutMs);
        track(id, () => {
          clearTimeout(timer);
          untrack(id);
          resolve();
        });
        send({ type: 'quayside:invalidate', groups: [...groups], id } satisfies InvalidateMessage, undefined, {}, (error: Error | null) => {
          // The channel closed under us: the primary is gone, and the workers with it.
          if (error !== null && error !== undefined) pending.get(id)?.();
        });
      });
    },
    subscribe(onInvalidate) {
      const onInvalidation = (message: unknown) => {
        if (!isInvalidateMessage(message)) return;
        for (const group of message.groups) onInvalidate(group);
        // Only once applied: the write it came from waits for this before it is answered.
        if (process.connected) process.send?.({ type: 'quayside:invalidated', id: message.id } satisfies InvalidatedMessage);
      };
      process.on('message', onInvalidation);
      return () => process.off('message', onInvalidation);
    },
  };
}
