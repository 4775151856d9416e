import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { createMetricsRegistry } from '../../src/metrics/registry.js';
import { openRedisConnection, reconnectDelayMs, REDIS_MAX_BACKOFF_MS, type RedisConnection } from '../../src/redis/connection.js';
import { describeRedisEndpoint, redisEndpointFrom } from '../../src/redis/endpoint.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';
import { waitUntil } from '../helpers/wait.js';

const silent = pino({ level: 'silent' });

describe('redisEndpointFrom', () => {
  const endpointOf = (yaml: string) => redisEndpointFrom(parseConfig(yaml, 'config.yaml', {}).config);

  it('is undefined without any Redis key: the embedded default needs no Redis', () => {
    assert.equal(endpointOf('SERVER_HOSTNAME: quay.example.com\n'), undefined);
    assert.equal(endpointOf('DATA_MODEL_CACHE_CONFIG: {engine: inmemory}\n'), undefined);
  });

  it("prefers the data model cache's primary, then USER_EVENTS_REDIS, then BUILDLOGS_REDIS", () => {
    const all = 'BUILDLOGS_REDIS: {host: logs}\nUSER_EVENTS_REDIS: {host: events, port: 6380}\n';
    assert.equal(endpointOf(`${all}DATA_MODEL_CACHE_CONFIG: {engine: redis, redis_config: {primary: {host: cache, ssl: true}}}\n`)?.host, 'cache');
    assert.deepEqual(endpointOf(all), { host: 'events', port: 6380, ssl: false, db: 0 });
    assert.equal(endpointOf('BUILDLOGS_REDIS: {host: logs, password: secret}\n')?.host, 'logs');
  });

  it('is described without its password', () => {
    assert.equal(describeRedisEndpoint({ host: 'r', port: 6379, password: 'secret', ssl: true, db: 2 }), 'rediss://r:6379/2');
    assert.equal(describeRedisEndpoint({ host: '::1', port: 7000, ssl: false, db: 0 }), 'redis://[::1]:7000/0');
  });
});

describe('reconnectDelayMs', () => {
  it('doubles from 50 ms and is capped', () => {
    assert.deepEqual([1, 2, 3, 4].map(reconnectDelayMs), [50, 100, 200, 400]);
    assert.equal(reconnectDelayMs(7), REDIS_MAX_BACKOFF_MS);
    assert.equal(reconnectDelayMs(10_000), REDIS_MAX_BACKOFF_MS);
  });
});

describe('a Redis that dies and comes back (private redis-server)', () => {
  let redis: PrivateRedis;
  let connection: RedisConnection;
  let registry: TestRegistry;
  const metrics = createMetricsRegistry();

  before(async () => {
    redis = await startPrivateRedis();
    connection = openRedisConnection({ host: '127.0.0.1', port: redis.port, ssl: false, db: 0 }, { logger: silent, metrics });
    registry = await startTestRegistry({ redis: connection, metrics, healthTimeoutMs: 2000 });
  });
  after(async () => {
    await registry?.close();
    await connection?.close();
    await redis?.stop();
  });

  const redisUp = async () => (await metrics.getSingleMetric('quayside_redis_up')?.get())?.values[0]?.value;
  const health = async (path: string) => {
    const res = await fetch(`${registry.url}${path}`);
    return { status: res.status, services: ((await res.json()) as { data: { services: Record<string, boolean> } }).data.services };
  };

  it('/health/endtoend says redis: false (503) while it is down, /health/instance stays 200, and both recover on their own', async () => {
    await waitUntil('the first connection', () => connection.isUp());
    assert.equal(await redisUp(), 1);
    assert.deepEqual(await health('/health/endtoend'), { status: 200, services: { database: true, storage: true, redis: true } });
    assert.deepEqual(await health('/health/instance'), { status: 200, services: { database: true } }, 'redis is not an instance check');

    // Requests in a loop while Redis is killed and restarted: none fails.
    let stop = false;
    let served = 0;
    const failures: string[] = [];
    const load = (async () => {
      while (!stop) {
        for (const path of ['/v2/', '/health/instance']) {
          const res = await fetch(`${registry.url}${path}`);
          await res.arrayBuffer();
          if (res.status !== 200) failures.push(`${path}: ${res.status}`);
          served += 1;
        }
      }
    })();

    await redis.kill();
    await waitUntil('the loss to be noticed', () => !connection.isUp());
    assert.equal(await redisUp(), 0);
    const down = await health('/health/endtoend');
    assert.deepEqual(down, { status: 503, services: { database: true, storage: true, redis: false } });
    assert.equal((await health('/health/instance')).status, 200);
    await assert.rejects(connection.ping(), /not connected to redis:\/\/127\.0\.0\.1/);

    await redis.restart();
    const reconnectStart = Date.now();
    await waitUntil('the automatic reconnection', () => connection.isUp());
    // The backoff is capped, so a Redis that is back is used again within the cap plus a connect.
    assert.ok(Date.now() - reconnectStart < REDIS_MAX_BACKOFF_MS + 3000, `reconnected after ${Date.now() - reconnectStart} ms`);
    assert.equal(await redisUp(), 1);
    assert.deepEqual(await health('/health/endtoend'), { status: 200, services: { database: true, storage: true, redis: true } });

    stop = true;
    await load;
    assert.ok(served > 0);
    assert.deepEqual(failures, []);
  });
});

describe('a Redis that is down at start', () => {
  it('is not an error: the connection keeps trying, and commands fail fast instead of queueing', async () => {
    const redis = await startPrivateRedis();
    await redis.kill();
    const connection = openRedisConnection({ host: '127.0.0.1', port: redis.port, ssl: false, db: 0 }, { logger: silent });
    try {
      const started = Date.now();
      await assert.rejects(connection.client.get('anything'));
      assert.ok(Date.now() - started < 1000, 'no offline queue: a command fails at once');
      await redis.restart();
      await waitUntil('the connection once Redis starts', () => connection.isUp());
      assert.equal(await connection.client.ping(), 'PONG');
    } finally {
      await connection.close();
      await redis.stop();
    }
  });
});
