import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { KyselyPullStatistics } from '../../src/db/pull-statistics.js';
import { putTestManifest } from '../helpers/test-manifests.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

for (const dialect of ALL_DIALECTS) {
  describe(`pull statistics on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let metadata: Metadata;
    let store: KyselyPullStatistics;
    before(async () => {
      fresh = await freshDatabase(dialect);
      metadata = createMetadata(fresh.database);
      store = new KyselyPullStatistics(fresh.database);
    });
    after(() => fresh.drop());

    it('adds batches up: counts sum, the latest pull keeps its date and the manifest the tag named', async () => {
      const repo = (await metadata.repositories.ensureRepository('stats/sum')).id;
      const one = await putTestManifest(metadata, repo, 1);
      const two = await putTestManifest(metadata, repo, 2);
      assert.equal(await store.forTag(repo, 'latest'), undefined);
      await store.add({ tags: [{ repositoryId: repo, tag: 'latest', manifestDigest: one.digest, count: 3, lastAt: 2_000 }], manifests: [{ manifestId: one.id, count: 3, lastAt: 2_000 }] });
      await store.add({ tags: [{ repositoryId: repo, tag: 'latest', manifestDigest: two.digest, count: 2, lastAt: 5_000 }], manifests: [{ manifestId: two.id, count: 2, lastAt: 5_000 }] });
      // A batch flushed late by another instance: older pulls add to the count but move nothing else.
      await store.add({ tags: [{ repositoryId: repo, tag: 'latest', manifestDigest: one.digest, count: 1, lastAt: 1_000 }], manifests: [{ manifestId: one.id, count: 1, lastAt: 1_000 }] });
      assert.deepEqual(await store.forTag(repo, 'latest'), { pullCount: 6, lastPulledAt: new Date(5_000), currentManifestDigest: two.digest });
      assert.deepEqual(await store.forManifest(one.id), { pullCount: 4, lastPulledAt: new Date(2_000) });
      assert.deepEqual(await store.forManifest(two.id), { pullCount: 2, lastPulledAt: new Date(5_000) });
    });

    it('counts many tags and manifests in one batch, beyond one statement', async () => {
      const repo = (await metadata.repositories.ensureRepository('stats/many')).id;
      const manifest = await putTestManifest(metadata, repo, 100);
      const tags = Array.from({ length: 1_200 }, (_, i) => ({ repositoryId: repo, tag: `t${i}`, manifestDigest: manifest.digest, count: i + 1, lastAt: 10_000 + i }));
      await store.add({ tags, manifests: [{ manifestId: manifest.id, count: 7, lastAt: 9 }] });
      assert.equal((await store.forTag(repo, 't1199'))?.pullCount, 1_200);
      assert.equal((await store.forTag(repo, 't0'))?.pullCount, 1);
      assert.equal((await store.forManifest(manifest.id))?.pullCount, 7);
    });

    it('drops the pulls of a manifest or repository deleted before the flush, and keeps the rest', async () => {
      const repo = (await metadata.repositories.ensureRepository('stats/gone')).id;
      const gone = await metadata.repositories.ensureRepository('stats/deleted');
      const kept = await putTestManifest(metadata, repo, 200);
      const deleted = await putTestManifest(metadata, repo, 201);
      assert.equal(await metadata.manifests.deleteManifest(repo, deleted.digest), true);
      await metadata.repositories.deleteRepository(gone.id);
      await store.add({
        tags: [
          { repositoryId: gone.id, tag: 'latest', manifestDigest: deleted.digest, count: 1, lastAt: 1 },
          { repositoryId: repo, tag: 'kept', manifestDigest: kept.digest, count: 1, lastAt: 1 },
        ],
        manifests: [
          { manifestId: deleted.id, count: 5, lastAt: 1 },
          { manifestId: kept.id, count: 2, lastAt: 1 },
        ],
      });
      assert.equal(await store.forManifest(deleted.id), undefined);
      assert.equal(await store.forTag(gone.id, 'latest'), undefined);
      assert.equal((await store.forManifest(kept.id))?.pullCount, 2);
      assert.equal((await store.forTag(repo, 'kept'))?.pullCount, 1);
    });

    it('forgets the statistics with what they count', async () => {
      const repo = (await metadata.repositories.ensureRepository('stats/cascade')).id;
      const manifest = await putTestManifest(metadata, repo, 300);
      await store.add({ tags: [{ repositoryId: repo, tag: 'v1', manifestDigest: manifest.digest, count: 1, lastAt: 1 }], manifests: [{ manifestId: manifest.id, count: 1, lastAt: 1 }] });
      assert.equal(await metadata.manifests.deleteManifest(repo, manifest.digest), true);
      assert.equal(await store.forManifest(manifest.id), undefined);
      await metadata.repositories.deleteRepository(repo);
      assert.equal(await store.forTag(repo, 'v1'), undefined);
    });
  });
}
