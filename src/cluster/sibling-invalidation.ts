import { isInvalidateMessage, type InvalidateMessage } from './messages.js';

/** What the cache needs to tell the other workers of this instance about a write, and to hear theirs. */
export interface SiblingInvalidation {
  publish(group: string): void;
  /** Calls `onInvalidate` for each group another worker changed; returns the function that stops it. */
  subscribe(onInvalidate: (group: string) => void): () => void;
}

/**
 * Invalidations between the workers of one `serve`, through the primary (src/cluster/worker-pool.ts relays them).
 * Unlike Redis pub/sub this channel has no gaps: it lives as long as the worker, so without Redis a tag moved
 * through one worker is seen by the next pull on any other at once, not after the short TTL that covers other
 * instances.
 */
export function siblingInvalidation(): SiblingInvalidation {
  return {
    publish(group) {
      if (process.connected) process.send?.({ type: 'quayside:invalidate', group } satisfies InvalidateMessage);
    },
    subscribe(onInvalidate) {
      const onMessage = (message: unknown) => {
        if (isInvalidateMessage(message)) onInvalidate(message.group);
      };
      process.on('message', onMessage);
      return () => process.off('message', onMessage);
    },
  };
}
