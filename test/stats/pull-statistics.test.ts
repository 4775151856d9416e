// Pull statistics (src/stats/): counted in a real Redis shared by two "instances", or in memory while Redis is
// away, and written to a real database by the flush exactly once.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { ManifestRecord, Metadata } from '../../src/db/metadata.js';
import { KyselyPullStatistics, type PullBatch, type PullStatisticsStore } from '../../src/db/pull-statistics.js';
import { openRedisConnection, type RedisConnection } from '../../src/redis/connection.js';
import { openPullStatistics } from '../../src/stats/open-pull-statistics.js';
import { PendingPulls } from '../../src/stats/pending-pulls.js';
import { PullStatistics } from '../../src/stats/pull-recorder.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { putTestManifest, testDigest } from '../helpers/test-manifests.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { waitUntil } from '../helpers/wait.js';

const silent = pino({ level: 'silent' });
const digest = testDigest;

describe('pending pulls in memory', () => {
  it('counts a tag pull for the tag and its manifest, a digest pull for the manifest only', () => {
    const pending = new PendingPulls();
    pending.addTagPull(1, 'latest', { id: 10, digest: digest(10) }, 100);
    pending.addTagPull(1, 'latest', { id: 11, digest: digest(11) }, 300);
    pending.addTagPull(1, 'latest', { id: 10, digest: digest(10) }, 200);
    pending.addManifestPull(10, 50);
    assert.equal(pending.size, 3);
    const batch = pending.take();
    assert.deepEqual(batch.tags, [{ repositoryId: 1, tag: 'latest', manifestDigest: digest(11), count: 3, lastAt: 300 }]);
    assert.deepEqual(batch.manifests, [
      { manifestId: 10, count: 3, lastAt: 200 },
      { manifestId: 11, count: 1, lastAt: 300 },
    ]);
    assert.equal(pending.size, 0);
    pending.addManifestPull(10, 400);
    pending.restore(batch);
    assert.deepEqual(pending.take().manifests, [
      { manifestId: 10, count: 4, lastAt: 400 },
      { manifestId: 11, count: 1, lastAt: 300 },
    ]);
  });
});

describe('pull statistics with Redis and a database', () => {
  let fresh: FreshDatabase;
  let metadata: Metadata;
  let store: KyselyPullStatistics;
  let repo: number;
  let manifest: ManifestRecord;
  const connections: RedisConnection[] = [];
  const connect = async (port = 6379): Promise<RedisConnection> => {
    const connection = openRedisConnection({ host: '127.0.0.1', port, ssl: false, db: 0 }, { logger: silent });
    connections.push(connection);
    await waitUntil(`redis on ${port}`, () => connection.isUp());
    return connection;
  };
  before(async () => {
    fresh = await freshDatabase('sqlite');
    metadata = createMetadata(fresh.database);
    store = new KyselyPullStatistics(fresh.database);
    repo = (await metadata.repositories.ensureRepository('stats/app')).id;
    manifest = await putTestManifest(metadata, repo, 1);
  });
  after(async () => {
    for (const connection of connections) await connection.close();
    await fresh.drop();
  });

  it('counts pulls of two instances in Redis, writes nothing before the flush, and each pull once after', async () => {
    const keyPrefix = `test:${randomBytes(4).toString('hex')}:`;
    const [redisA, redisB] = [await connect(), await connect()];
    const a = new PullStatistics({ store, log: silent, redis: redisA, keyPrefix, flushIntervalMs: 1_000 });
    const b = new PullStatistics({ store, log: silent, redis: redisB, keyPrefix, flushIntervalMs: 1_000 });
    const before = (await store.forManifest(manifest.id))?.pullCount ?? 0;
    for (let i = 0; i < 5; i++) a.tagPulled(repo, 'counted', manifest);
    for (let i = 0; i < 3; i++) b.tagPulled(repo, 'counted', manifest);
    b.digestPulled(manifest);
    assert.equal(await redisA.client.exists(`${keyPrefix}pulls:live`), 0, 'a pull costs no Redis call: it is counted in memory');
    await Promise.all([a.spill(), b.spill()]);
    assert.equal(await redisA.client.hget(`${keyPrefix}pulls:live`, `m ${manifest.id}`), '9', 'both instances\' counts meet in Redis');
    assert.equal(await store.forTag(repo, 'counted'), undefined, 'a pull writes nothing to the database');
    await Promise.all([a.flush(), b.flush()]);
    await a.flush();
    assert.equal((await store.forTag(repo, 'counted'))?.pullCount, 8);
    assert.equal((await store.forManifest(manifest.id))?.pullCount, before + 9);
    assert.deepEqual(await redisA.client.keys(`${keyPrefix}*`), [], 'nothing is left in Redis once written');
  });

  it('takes over a hash that a dead flusher left behind once it is stale, and only then', async () => {
    const keyPrefix = `test:${randomBytes(4).toString('hex')}:`;
    const redis = await connect();
    let clock = 10_000_000;
    const statistics = new PullStatistics({ store, log: silent, redis, keyPrefix, flushIntervalMs: 1_000, now: () => clock });
    const stale = `${keyPrefix}pulls:flushing:${clock - 400_000}:dead:0001`;
    const recent = `${keyPrefix}pulls:flushing:${clock - 1_000}:busy:0002`;
    for (const key of [stale, recent]) await redis.client.hset(key, `t ${repo} left`, '2', `T ${repo} left`, `${clock} ${manifest.digest}`, `m ${manifest.id}`, '2', `M ${manifest.id}`, String(clock));
    await statistics.flush();
    assert.equal((await store.forTag(repo, 'left'))?.pullCount, 2, 'the stale hash is written');
    assert.equal(await redis.client.exists(stale), 0);
    assert.equal(await redis.client.exists(recent), 1, 'a hash another flusher is still writing is left alone');
    clock += 400_000;
    await statistics.flush();
    assert.equal((await store.forTag(repo, 'left'))?.pullCount, 4);
    assert.deepEqual(await redis.client.keys(`${keyPrefix}*`), []);
  });

  it('moves a large batch to Redis in several calls, and adds to what is there', async () => {
    const keyPrefix = `test:${randomBytes(4).toString('hex')}:`;
    const redis = await connect();
    const statistics = new PullStatistics({ store, log: silent, redis, keyPrefix, flushIntervalMs: 1_000 });
    for (let i = 0; i < 1_200; i++) statistics.tagPulled(repo, `many-${i}`, manifest);
    await statistics.spill();
    statistics.tagPulled(repo, 'many-0', manifest);
    await statistics.spill();
    assert.equal(await redis.client.hget(`${keyPrefix}pulls:live`, `t ${repo} many-0`), '2');
    assert.equal(await redis.client.hget(`${keyPrefix}pulls:live`, `t ${repo} many-1199`), '1');
    assert.equal(await redis.client.hget(`${keyPrefix}pulls:live`, `m ${manifest.id}`), '1201');
    await statistics.flush();
    assert.equal((await store.forTag(repo, 'many-1199'))?.pullCount, 1);
    assert.deepEqual(await redis.client.keys(`${keyPrefix}*`), []);
  });

  it('keeps counts that the database refused, and writes them with the next flush', async () => {
    let refuse = true;
    const flaky: PullStatisticsStore = {
      add: (batch: PullBatch) => (refuse ? Promise.reject(new Error('database unavailable')) : store.add(batch)),
      forTag: (id, tag) => store.forTag(id, tag),
      forManifest: (id) => store.forManifest(id),
    };
    const statistics = new PullStatistics({ store: flaky, log: silent, flushIntervalMs: 1_000 });
    statistics.tagPulled(repo, 'refused', manifest);
    await assert.rejects(statistics.flush(), /database unavailable/);
    statistics.tagPulled(repo, 'refused', manifest);
    refuse = false;
    await statistics.flush();
    assert.equal((await store.forTag(repo, 'refused'))?.pullCount, 2);
  });

  describe('while Redis is down', () => {
    let privateRedis: PrivateRedis;
    before(async () => {
      privateRedis = await startPrivateRedis();
    });
    after(() => privateRedis?.stop());

    it('counts in memory, writes those counts, and counts in Redis again once it is back', async () => {
      const keyPrefix = `test:${randomBytes(4).toString('hex')}:`;
      const redis = await connect(privateRedis.port);
      const statistics = new PullStatistics({ store, log: silent, redis, keyPrefix, flushIntervalMs: 1_000 });
      await privateRedis.kill();
      await waitUntil('the connection to notice', () => !redis.isUp());
      for (let i = 0; i < 4; i++) statistics.tagPulled(repo, 'outage', manifest);
      await statistics.spill();
      await statistics.flush();
      assert.equal((await store.forTag(repo, 'outage'))?.pullCount, 4);

      await privateRedis.restart();
      await waitUntil('the connection to come back', () => redis.isUp());
      statistics.tagPulled(repo, 'outage', manifest);
      await statistics.spill();
      assert.equal(await redis.client.hget(`${keyPrefix}pulls:live`, `t ${repo} outage`), '1', 'counted in Redis again');
      await statistics.flush();
      assert.equal((await store.forTag(repo, 'outage'))?.pullCount, 5);
    });
  });
});

describe('pull statistics configuration', () => {
  it('is on by default, off with FEATURE_IMAGE_PULL_STATS: false, and refuses a bad flush interval in one line', async () => {
    const fresh = await freshDatabase('sqlite');
    try {
      const on = openPullStatistics(parseConfig('FEATURE_GARBAGE_COLLECTION: true\n', 'config.yaml', {}).config, fresh.database, { logger: silent });
      assert.equal(on?.flushIntervalMs, 30_000);
      await on?.close();
      assert.equal(openPullStatistics(parseConfig('FEATURE_IMAGE_PULL_STATS: false\n', 'config.yaml', {}).config, fresh.database, { logger: silent }), undefined);
    } finally {
      await fresh.drop();
    }
    for (const yaml of ['REDIS_FLUSH_INTERVAL_SECONDS: 0\n', 'REDIS_FLUSH_INTERVAL_SECONDS: soon\n', 'PULL_METRICS_REDIS: {host: 127.0.0.1, port: 99999}\n']) {
      assert.throws(
        () => parseConfig(yaml, 'config.yaml', {}),
        (error: unknown) => error instanceof ConfigError && !error.message.includes('\n') && /REDIS_FLUSH_INTERVAL_SECONDS|PULL_METRICS_REDIS/.test(error.message),
      );
    }
  });
});
