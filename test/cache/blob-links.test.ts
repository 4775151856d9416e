// The cached blob links of blob GET and HEAD (src/cache/caching-metadata.ts), on every dialect: a HEAD answered
// from memory only while the database itself would not refresh the link, so GC's HEAD->PUT protection
// (docs/gc.md) is the same with the cache; a link removed (blob DELETE, GC) is never answered from memory.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cachingMetadata } from '../../src/cache/caching-metadata.js';
import { LocalCache } from '../../src/cache/local-cache.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { createMetricsRegistry, type MetricsRegistry } from '../../src/metrics/registry.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const HOUR = 3_600_000;
const GRACE_MS = HOUR;

async function counted(metrics: MetricsRegistry, name: string): Promise<number> {
  const values = (await metrics.getSingleMetric(name)?.get())?.values ?? [];
  return values.filter((v) => v.labels.what === 'blob_link').reduce((sum, v) => sum + v.value, 0);
}

for (const dialect of ALL_DIALECTS) {
  describe(`cached blob links (${dialect})`, () => {
    let fresh: FreshDatabase;
    let clock = 1_700_000_000_000;
    let database: Metadata;
    let cached: Metadata;
    let metrics: MetricsRegistry;
    let n = 0;

    before(async () => {
      fresh = await freshDatabase(dialect);
      database = createMetadata(fresh.database, { now: () => clock });
      const cache = new LocalCache({ maxEntries: 100, now: () => clock });
      metrics = createMetricsRegistry();
      // Listening: entries live long (an hour here), so only the rules below, not a TTL, end them.
      cached = cachingMetadata(database, {
        cache,
        listening: () => true,
        invalidate: (group) => cache.invalidate(group),
        ttls: { listeningMs: 10 * HOUR, aloneMs: 10 * HOUR },
        metrics,
        now: () => clock,
      });
    });
    after(() => fresh.drop());

    async function linked(): Promise<{ repo: number; digest: string }> {
      n += 1;
      const { repository } = await database.repositories.createRepository(`org/links-${n}`, 'private');
      const digest = `sha256:${n.toString(16).padStart(64, 'b')}`;
      await database.blobs.recordBlob(digest, 10);
      await database.blobs.linkBlob(repository.id, digest);
      return { repo: repository.id, digest };
    }

    it('a HEAD is answered from memory while the link is fresh; past half the grace period the database refreshes it', async () => {
      const { repo, digest } = await linked();
      const linkedAt = clock;
      assert.equal((await cached.blobs.holdLinkedBlob(repo, digest, GRACE_MS))?.touchedAt, linkedAt);
      const hits = await counted(metrics, 'quayside_cache_hits_total');
      clock += GRACE_MS / 2 - 1;
      assert.equal((await cached.blobs.holdLinkedBlob(repo, digest, GRACE_MS))?.digest, digest);
      assert.equal(await counted(metrics, 'quayside_cache_hits_total'), hits + 1, 'answered from memory');

      // Half the grace period after the touch: the database would refresh the link now, so the cache must not answer.
      clock += 2;
      const misses = await counted(metrics, 'quayside_cache_misses_total');
      assert.equal((await cached.blobs.holdLinkedBlob(repo, digest, GRACE_MS))?.touchedAt, clock);
      assert.equal(await counted(metrics, 'quayside_cache_misses_total'), misses + 1, 'asked the database');
      // The row was refreshed: GC (which deletes links touched more than the grace period ago) keeps it.
      clock += GRACE_MS / 2 + 1;
      const garbage = await database.garbage.findRepositoryGarbage(repo, { now: clock, timeMachineMs: HOUR, graceMs: GRACE_MS });
      assert.ok(!JSON.stringify(garbage).includes(digest), 'the refreshed link is no garbage');
    });

    it('a GET entry does not satisfy a HEAD (it says nothing of the link\'s age)', async () => {
      const { repo, digest } = await linked();
      clock += GRACE_MS;
      assert.equal((await cached.blobs.getLinkedBlob(repo, digest))?.digest, digest);
      const misses = await counted(metrics, 'quayside_cache_misses_total');
      assert.equal((await cached.blobs.holdLinkedBlob(repo, digest, GRACE_MS))?.touchedAt, clock, 'the HEAD refreshed the old link');
      assert.equal(await counted(metrics, 'quayside_cache_misses_total'), misses + 1);
      const hits = await counted(metrics, 'quayside_cache_hits_total');
      assert.equal((await cached.blobs.getLinkedBlob(repo, digest))?.digest, digest);
      assert.equal(await counted(metrics, 'quayside_cache_hits_total'), hits + 1, 'a GET uses the HEAD\'s entry');
    });

    it('a blob DELETE, GC and the repository\'s deletion end the cached link; an absence is never kept', async () => {
      const { repo, digest } = await linked();
      assert.ok(await cached.blobs.holdLinkedBlob(repo, digest, GRACE_MS));
      assert.equal(await cached.blobs.unlinkBlob(repo, digest), true);
      assert.equal(await cached.blobs.holdLinkedBlob(repo, digest, GRACE_MS), undefined);
      assert.equal(await cached.blobs.getLinkedBlob(repo, digest), undefined);
      await database.blobs.linkBlob(repo, digest);
      assert.equal((await cached.blobs.getLinkedBlob(repo, digest))?.digest, digest, 'linked again: found at once');

      // GC unlinks a link nothing needs once it is older than the grace period.
      clock += 2 * GRACE_MS;
      assert.ok(await cached.blobs.getLinkedBlob(repo, digest));
      await cached.garbage.collectRepository(repo, { now: clock, timeMachineMs: HOUR, graceMs: GRACE_MS });
      assert.equal(await cached.blobs.getLinkedBlob(repo, digest), undefined, 'collected by GC');

      await database.blobs.linkBlob(repo, digest);
      assert.ok(await cached.blobs.getLinkedBlob(repo, digest));
      assert.equal(await cached.repositories.deleteRepository(repo), true);
      assert.equal(await cached.blobs.getLinkedBlob(repo, digest), undefined, 'gone with its repository');
    });
  });
}
