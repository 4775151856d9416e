import IORedis, { type Redis } from 'ioredis';
import { Gauge } from 'prom-client';
import type { Logger } from 'pino';
import type { RedisEndpointConfig } from '../config/schema.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import { describeRedisEndpoint } from './endpoint.js';

/** A command Redis has not answered within this fails at once, and the caller falls back to the database. */
export const REDIS_COMMAND_TIMEOUT_MS = 500;
/** Reconnection backoff: 50 ms doubling, capped, forever (Redis comes back on its own schedule). */
export const REDIS_MAX_BACKOFF_MS = 2_000;
const CONNECT_TIMEOUT_MS = 1_000;

/** How long to wait before reconnection attempt `attempt` (1, 2, ...). */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt - 1, 16), REDIS_MAX_BACKOFF_MS);
}

export interface RedisConnection {
  /** The command client; only use it while `isUp()`, and treat every rejection as "Redis is not there". */
  readonly client: Redis;
  isUp(): boolean;
  /** The health probe: a PING round trip; rejects while disconnected. */
  ping(): Promise<void>;
  /** Called with true on each (re)connection and false on each loss (a cache drops what it may have missed). */
  onStateChange(listener: (up: boolean) => void): void;
  /**
   * A second connection for SUBSCRIBE (a subscribed connection takes no other commands); same options, except
   * that it does not resubscribe by itself after a reconnection: its user subscribes again on each 'ready'.
   */
  duplicate(): Redis;
  close(): Promise<void>;
}

export interface RedisConnectionDeps {
  logger: Logger;
  metrics?: MetricsRegistry;
}

/** Options that make Redis never critical: no queue while offline, short timeouts, reconnection with capped backoff. */
export function clientOptions(endpoint: RedisEndpointConfig) {
  return {
    host: endpoint.host.replace(/^\[(.*)\]$/, '$1'),
    port: endpoint.port,
    password: endpoint.password ?? undefined,
    db: endpoint.db,
    tls: endpoint.ssl ? {} : undefined,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: reconnectDelayMs,
    lazyConnect: false,
  };
}

/** Connects (in the background: a Redis that is down at start is not an error) and tracks whether it is up. */
export function openRedisConnection(endpoint: RedisEndpointConfig, deps: RedisConnectionDeps): RedisConnection {
  const where = describeRedisEndpoint(endpoint);
  const client = new IORedis.default(clientOptions(endpoint));
  const listeners: ((up: boolean) => void)[] = [];
  let up = false;
  const gauge = deps.metrics
    ? new Gauge({ name: 'quayside_redis_up', help: 'Whether the Redis connection is ready (1) or not (0); over worker processes, the lowest', registers: [deps.metrics], aggregator: 'min' })
    : undefined;
  gauge?.set(0);
  const setUp = (next: boolean) => {
    if (next === up) return;
    up = next;
    gauge?.set(next ? 1 : 0);
    if (next) deps.logger.info({ redis: where }, 'redis connected');
    else deps.logger.warn({ redis: where }, 'redis connection lost; serving from the database until it is back');
    for (const listener of listeners) listener(next);
  };
  client.on('ready', () => setUp(true));
  client.on('close', () => setUp(false));
  client.on('end', () => setUp(false));
  // Errors are reported by the state change above; without a listener ioredis would log each one itself.
  client.on('error', (error: Error) => deps.logger.debug({ redis: where, err: error.message }, 'redis error'));

  return {
    client,
    isUp: () => up,
    ping: async () => {
      if (!up) throw new Error(`not connected to ${where}`);
      await client.ping();
    },
    onStateChange: (listener) => {
      listeners.push(listener);
    },
    duplicate: () => {
      // No autoResubscribe: ioredis's own resubscription on reconnect drops the promise of its SUBSCRIBE, so a
      // connection that closes again at that moment was an unhandled rejection (seen in CI on close after a
      // Redis restart; in serve it would end the process). The subscriber's user resubscribes on 'ready' itself
      // (src/cache/invalidation-bus.ts) and handles the failure.
      const subscriber = client.duplicate({ autoResubscribe: false });
      subscriber.on('error', (error: Error) => deps.logger.debug({ redis: where, err: error.message }, 'redis subscriber error'));
      return subscriber;
    },
    close: async () => {
      listeners.length = 0;
      client.disconnect(false);
    },
  };
}
