import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { fallbackThrottleStore, RedisThrottleStore } from '../../src/cache/redis-throttle.js';
import { LoginThrottle } from '../../src/auth/throttle.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { KyselyThrottleStore } from '../../src/db/throttle.js';
import { openRedisConnection, type RedisConnection } from '../../src/redis/connection.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { waitUntil } from '../helpers/wait.js';

const policy = { freeAttempts: 5, maxDelayS: 60 };

describe('login throttle counters in Redis, the database while Redis is down', () => {
  let dir: string;
  let database: Database;
  let redis: PrivateRedis;
  let connection: RedisConnection;
  const prefix = `quayside-test:${randomUUID()}:throttle:`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quayside-throttle-'));
    database = await openDatabase({ uri: `sqlite:///${join(dir, 'q.db')}` });
    await migrateToLatest(database);
    redis = await startPrivateRedis();
    connection = openRedisConnection({ host: '127.0.0.1', port: redis.port, ssl: false, db: 0 }, { logger: pino({ level: 'silent' }) });
    await waitUntil('redis up', () => connection.isUp());
  });
  after(async () => {
    await connection?.close();
    await redis?.stop();
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts failures in Redis (no database write), falls back to the database when Redis is killed, and uses Redis again when it is back', async () => {
    const inDatabase = new KyselyThrottleStore(database);
    const inRedis = new RedisThrottleStore(connection, prefix);
    const throttle = new LoginThrottle(fallbackThrottleStore(connection, inRedis, inDatabase), policy);
    const keys = ['account:alice', 'address:192.0.2.7'];

    for (let i = 0; i < 3; i++) assert.equal((await throttle.reserve(keys)).allowed, true);
    assert.equal((await inRedis.get('account:alice'))?.failures, 3);
    assert.equal(await connection.client.get(`${prefix}account:alice`).then((v) => v?.split(':')[0]), '3');
    assert.equal(await inDatabase.get('account:alice'), undefined, 'no database write while Redis is up');

    // A successful login gives the address its attempt back and forgets the account's failures.
    const ok = await throttle.reserve(keys);
    assert.ok(ok.allowed);
    await throttle.succeed(ok.reservation, 'account:alice');
    assert.equal(await inRedis.get('account:alice'), undefined);
    assert.equal((await inRedis.get('address:192.0.2.7'))?.failures, 3);

    // Five failures then a refusal, all in Redis.
    for (let i = 0; i < 5; i++) assert.equal((await throttle.reserve(['account:bob'])).allowed, true);
    const refused = await throttle.reserve(['account:bob']);
    assert.equal(refused.allowed, false);

    await redis.kill();
    await waitUntil('the loss to be noticed', () => !connection.isUp());
    const started = Date.now();
    assert.equal((await throttle.reserve(['account:carol'])).allowed, true, 'a login while Redis is down still works');
    assert.ok(Date.now() - started < 1000, 'and does not wait for Redis');
    assert.equal((await inDatabase.get('account:carol'))?.failures, 1, 'counted in the database instead');

    await redis.restart();
    await waitUntil('the reconnection', () => connection.isUp());
    assert.equal((await throttle.reserve(['account:dave'])).allowed, true);
    assert.equal((await inRedis.get('account:dave'))?.failures, 1, 'Redis is used again');
    assert.equal(await inDatabase.get('account:dave'), undefined);
  });
});
