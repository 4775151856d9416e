// Two instances (two database connections to one SQLite file, each with its own cache) sharing Redis: a
// write on one is seen by a read on the other within the documented bound.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { openCache, type OpenedCache } from '../../src/cache/open-cache.js';
import { parseConfig } from '../../src/config/load.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata, NewManifest } from '../../src/db/metadata.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createMetricsRegistry, type MetricsRegistry } from '../../src/metrics/registry.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { waitUntil } from '../helpers/wait.js';

const silent = pino({ level: 'silent' });
/** With Redis up an invalidation travels in milliseconds; this generous bound is what the test asserts. */
const LISTENING_BOUND_MS = 1_000;
const TTLS = { listeningMs: 60_000, aloneMs: 500 };

function manifest(content: string): NewManifest {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, content }));
  return {
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: null,
    subjectDigest: null,
    annotations: null,
    bytes,
    references: [],
  };
}

interface Instance {
  metadata: Metadata;
  cache: OpenedCache;
  metrics: MetricsRegistry;
  database: Database;
}

async function openInstance(file: string, redisPort: number, channel: string): Promise<Instance> {
  const database = await openDatabase({ uri: `sqlite:///${file}` });
  const config = parseConfig(`USER_EVENTS_REDIS: {host: 127.0.0.1, port: ${redisPort}}\n`, 'config.yaml', {}).config;
  const metrics = createMetricsRegistry();
  const cache = openCache(config, createMetadata(database), { logger: silent, metrics, keyPrefix: channel, ttls: TTLS });
  return { metadata: cache.metadata, cache, metrics, database };
}

async function hitCount(metrics: MetricsRegistry): Promise<number> {
  const values = (await metrics.getSingleMetric('quayside_cache_hits_total')?.get())?.values ?? [];
  return values.reduce((sum, v) => sum + v.value, 0);
}

/** Waits until `read` returns `expected` and returns how long that took. */
async function timeUntil<T>(what: string, read: () => Promise<T>, expected: T): Promise<number> {
  const started = Date.now();
  await waitUntil(what, async () => {
    const value = await read();
    try {
      assert.deepEqual(value, expected);
      return true;
    } catch {
      return false;
    }
  });
  return Date.now() - started;
}

for (const setup of ['shared Redis 127.0.0.1:6379', 'private Redis'] as const) {
  describe(`cache across two instances (${setup})`, () => {
    let dir: string;
    let redis: PrivateRedis | undefined;
    let a: Instance;
    let b: Instance;
    const channel = `quayside-test:${randomUUID()}:`;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'quayside-cache-'));
      const file = join(dir, 'quayside.db');
      const migrating = await openDatabase({ uri: `sqlite:///${file}` });
      await migrateToLatest(migrating);
      await migrating.close();
      let port = 6379;
      if (setup === 'private Redis') {
        redis = await startPrivateRedis();
        port = redis.port;
      }
      a = await openInstance(file, port, channel);
      b = await openInstance(file, port, channel);
      await waitUntil('both instances subscribed', () => a.cache.redis?.isUp() && b.cache.redis?.isUp());
    });
    after(async () => {
      for (const instance of [a, b]) {
        await instance?.cache.close();
        await instance?.database.close();
      }
      await redis?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    const tagged = (instance: Instance, repositoryId: number, tag: string) =>
      instance.metadata.manifests.getTaggedManifest(repositoryId, tag).then((m) => m?.digest);

    it('a tag moved, a tag deleted, a repository made private, a repository deleted: seen on the other within the bound', async () => {
      const { repository } = await a.metadata.repositories.createRepository(`org/app-${randomUUID().slice(0, 8)}`, 'public');
      const one = manifest('one');
      const two = manifest('two');
      await a.metadata.manifests.putManifest(repository.id, one);
      await a.metadata.manifests.putManifest(repository.id, two);
      await a.metadata.tags.setTag(repository.id, 'latest', one.digest);

      // B reads (and caches) it, then reads it again from its cache.
      const before = await hitCount(b.metrics);
      await waitUntil('B to see the tag', async () => (await tagged(b, repository.id, 'latest')) === one.digest);
      assert.equal(await tagged(b, repository.id, 'latest'), one.digest);
      assert.ok((await hitCount(b.metrics)) > before, 'the second read is a cache hit');

      await a.metadata.tags.setTag(repository.id, 'latest', two.digest);
      const moved = await timeUntil('B to see the moved tag', () => tagged(b, repository.id, 'latest'), two.digest);
      assert.ok(moved < LISTENING_BOUND_MS, `tag move seen after ${moved} ms`);

      await a.metadata.tags.deleteTag(repository.id, 'latest');
      const deleted = await timeUntil('B to see the tag gone', () => tagged(b, repository.id, 'latest'), undefined);
      assert.ok(deleted < LISTENING_BOUND_MS, `tag deletion seen after ${deleted} ms`);

      const visibility = () => b.metadata.repositories.getRepository(repository.name).then((r) => r?.visibility);
      assert.equal(await visibility(), 'public');
      await a.metadata.repositories.setVisibility(repository.id, 'private');
      const privated = await timeUntil('B to see the repository private', visibility, 'private');
      assert.ok(privated < LISTENING_BOUND_MS, `visibility change seen after ${privated} ms`);

      await a.metadata.repositories.deleteRepository(repository.id);
      const gone = await timeUntil('B to see the repository gone', visibility, undefined);
      assert.ok(gone < LISTENING_BOUND_MS, `deletion seen after ${gone} ms`);
      assert.equal(await b.metadata.repositories.getRepositoryById(repository.id), undefined);
    });

    it('a blob link removed on one instance: no longer found on the other within the bound', async () => {
      const { repository } = await a.metadata.repositories.createRepository(`org/blob-${randomUUID().slice(0, 8)}`, 'public');
      const digest = `sha256:${createHash('sha256').update(randomUUID()).digest('hex')}`;
      await a.metadata.blobs.recordBlob(digest, 4);
      await a.metadata.blobs.linkBlob(repository.id, digest);
      const head = () => b.metadata.blobs.holdLinkedBlob(repository.id, digest, 3_600_000).then((blob) => blob?.digest);
      await waitUntil('B to answer the HEAD from its cache', async () => {
        const hits = await hitCount(b.metrics);
        return (await head()) === digest && (await head()) === digest && (await hitCount(b.metrics)) > hits;
      });
      assert.equal(await a.metadata.blobs.unlinkBlob(repository.id, digest), true);
      const unlinked = await timeUntil('B to see the link gone', head, undefined);
      assert.ok(unlinked < LISTENING_BOUND_MS, `unlinked blob seen after ${unlinked} ms`);
      assert.equal(await b.metadata.blobs.getLinkedBlob(repository.id, digest), undefined);
    });

    it('a tag list: cached, a tag added or deleted on the other instance seen within the bound, the first tags at once', async () => {
      const { repository } = await a.metadata.repositories.createRepository(`org/list-${randomUUID().slice(0, 8)}`, 'public');
      const one = manifest('list-one');
      await a.metadata.manifests.putManifest(repository.id, one);
      const list = () => b.metadata.tags.listTags(repository.id, { limit: 100 });
      assert.deepEqual(await list(), []);
      // An empty list is never kept: the first tag pushed through A is listed by B on the next request.
      await a.metadata.tags.setTag(repository.id, 'v1', one.digest);
      assert.deepEqual(await list(), ['v1']);
      const before = await hitCount(b.metrics);
      assert.deepEqual(await list(), ['v1']);
      assert.ok((await hitCount(b.metrics)) > before, 'the second read is a cache hit');
      (await list()).push('mutated by a caller');
      assert.deepEqual(await list(), ['v1'], 'a caller cannot change the cached list');

      await a.metadata.tags.setTag(repository.id, 'v2', one.digest);
      const added = await timeUntil('B to list the new tag', list, ['v1', 'v2']);
      assert.ok(added < LISTENING_BOUND_MS, `new tag listed after ${added} ms`);
      await a.metadata.tags.deleteTag(repository.id, 'v1');
      const removed = await timeUntil('B to stop listing the deleted tag', list, ['v2']);
      assert.ok(removed < LISTENING_BOUND_MS, `deleted tag dropped after ${removed} ms`);
      assert.deepEqual(await b.metadata.tags.listTags(repository.id, { limit: 1, last: 'v1' }), ['v2'], 'pages are cached apart');
    });

    if (setup === 'private Redis') {
      it('with Redis killed, writes and reads keep working and the other instance sees them within the short TTL; Redis back, used again', async () => {
        const { repository } = await a.metadata.repositories.createRepository(`org/kill-${randomUUID().slice(0, 8)}`, 'public');
        const one = manifest('k1');
        const two = manifest('k2');
        await a.metadata.manifests.putManifest(repository.id, one);
        await a.metadata.manifests.putManifest(repository.id, two);
        await a.metadata.tags.setTag(repository.id, 'latest', one.digest);
        await waitUntil('B to see the tag', async () => (await tagged(b, repository.id, 'latest')) === one.digest);

        await redis!.kill();
        await waitUntil('both to notice', () => !a.cache.redis!.isUp() && !b.cache.redis!.isUp());
        // B caches again, now with the short TTL.
        assert.equal(await tagged(b, repository.id, 'latest'), one.digest);
        await a.metadata.tags.setTag(repository.id, 'latest', two.digest);
        const stale = await timeUntil('B to see the move without Redis', () => tagged(b, repository.id, 'latest'), two.digest);
        assert.ok(stale <= TTLS.aloneMs + 500, `tag move seen after ${stale} ms without Redis (TTL ${TTLS.aloneMs} ms)`);

        await redis!.restart();
        await waitUntil('both reconnected and subscribed', () => a.cache.redis!.isUp() && b.cache.redis!.isUp());
        await a.metadata.tags.setTag(repository.id, 'latest', one.digest);
        const after = await timeUntil('B to see the move over Redis again', () => tagged(b, repository.id, 'latest'), one.digest);
        assert.ok(after < LISTENING_BOUND_MS, `tag move seen after ${after} ms`);
        const hits = await hitCount(b.metrics);
        await tagged(b, repository.id, 'latest');
        assert.equal(await hitCount(b.metrics), hits + 1, 'the cache is used again');
      });
    }
  });
}
