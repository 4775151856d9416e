import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** The prefix of the invalidation channel and of every Redis key (tests give one of their own). */
export const DEFAULT_KEY_PREFIX = 'quayside:';

/**
 * The invalidation group that means "everything": a write made outside every serving process (the admin
 * CLI, src/cache/outside-writes.ts) does not know which cached groups it touched, so it asks each process to
 * drop its whole cache, as a Redis reconnection does. No real group is named `*` (they are `repository:<id>`
 * and `permissions`).
 */
export const EVERY_GROUP = '*';

/** The pub/sub channel the caches listen on, under a key prefix. */
export function invalidationChannel(prefix: string = DEFAULT_KEY_PREFIX): string {
  return `${prefix}cache:invalidate`;
}

/**
 * Tells the other instances which cache group a write changed, over Redis pub/sub. `listening()` is true only
 * while this instance is subscribed: only then may entries live long, since a message sent while it was not
 * subscribed is lost (on each (re)subscription the cache is cleared instead).
 */
export interface InvalidationBus {
  publish(group: string): void;
  listening(): boolean;
  close(): Promise<void>;
}

export interface InvalidationBusDeps {
  /** The command connection (PUBLISH). */
  publisher: Redis;
  /** A connection of its own for SUBSCRIBE. */
  subscriber: Redis;
  channel: string;
  onInvalidate: (group: string) => void;
  /** Called when the subscription drops and again when it is back: everything cached may have missed a message. */
  onGap: () => void;
  logger: Logger;
}

export function redisInvalidationBus(deps: InvalidationBusDeps): InvalidationBus {
  let subscribed = false;
  let closed = false;
  const subscribe = () => {
    deps.subscriber.subscribe(deps.channel).then(
      () => {
        if (closed) return;
        subscribed = true;
        deps.onGap();
      },
      (error: Error) => deps.logger.debug({ err: error.message }, 'cache invalidation subscribe failed; retried on reconnect'),
    );
  };
  deps.subscriber.on('ready', subscribe);
  deps.subscriber.on('close', () => {
    if (subscribed) deps.onGap();
    subscribed = false;
  });
  deps.subscriber.on('message', (channel: string, group: string) => {
    if (channel === deps.channel) deps.onInvalidate(group);
  });
  if (deps.subscriber.status === 'ready') subscribe();
  return {
    publish(group) {
      // Never awaited by a request: a Redis that is down costs the writer nothing; the others' short TTL covers it.
      deps.publisher.publish(deps.channel, group).catch((error: Error) => {
        deps.logger.debug({ err: error.message, group }, 'cache invalidation not published');
      });
    },
    listening: () => subscribed,
    async close() {
      closed = true;
      subscribed = false;
      deps.subscriber.disconnect(false);
    },
  };
}
