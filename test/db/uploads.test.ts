import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

for (const dialect of ALL_DIALECTS) {
  describe(`uploads on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let metadata: Metadata;
    let clock = 1_700_000_000_000;
    let repositoryId: number;
    before(async () => {
      fresh = await freshDatabase(dialect);
      metadata = createMetadata(fresh.database, { now: () => clock });
      repositoryId = (await metadata.repositories.ensureRepository('up/repo')).id;
    });
    after(() => fresh.drop());

    it('creates an empty upload and reads it back', async () => {
      const created = await metadata.uploads.createUpload('5f0c6b1e-0000-4000-8000-000000000001', repositoryId);
      const expected = {
        id: '5f0c6b1e-0000-4000-8000-000000000001',
        repositoryId,
        size: 0,
        hashState: null,
        createdAt: new Date(clock),
        updatedAt: new Date(clock),
      };
      assert.deepEqual(created, expected);
      assert.deepEqual(await metadata.uploads.getUpload(created.id), expected);
      assert.equal(await metadata.uploads.getUpload('missing'), undefined);
    });

    it('rejects a duplicate id and an unknown repository', async () => {
      await metadata.uploads.createUpload('dup', repositoryId);
      await assert.rejects(metadata.uploads.createUpload('dup', repositoryId));
      await assert.rejects(metadata.uploads.createUpload('orphan', repositoryId + 1000));
    });

    it('advances only from the expected size (compare-and-set)', async () => {
      await metadata.uploads.createUpload('cas', repositoryId);
      clock += 500;
      assert.equal(await metadata.uploads.advanceUpload('cas', 0, 6_000_000_000, null), true);
      assert.equal(await metadata.uploads.advanceUpload('cas', 0, 10, null), false);
      const after1 = await metadata.uploads.getUpload('cas');
      assert.equal(after1?.size, 6_000_000_000);
      assert.deepEqual(after1?.updatedAt, new Date(clock));
      assert.equal(await metadata.uploads.advanceUpload('cas', 6_000_000_000, 6_000_000_000, null), true, 'empty chunk');
      assert.equal(await metadata.uploads.advanceUpload('missing', 0, 1, null), false);
    });

    it('lets exactly one of several concurrent writers advance', async () => {
      await metadata.uploads.createUpload('race', repositoryId);
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => metadata.uploads.advanceUpload('race', 0, i + 1, Uint8Array.of(i))));
      assert.equal(results.filter(Boolean).length, 1);
      const winner = results.indexOf(true);
      const row = await metadata.uploads.getUpload('race');
      assert.equal(row?.size, winner + 1);
      assert.deepEqual(row?.hashState, Uint8Array.of(winner), "the winner's hash state, written by the same statement");
    });

    it('stores the hash state with the size, byte for byte, and only when the compare-and-set succeeds', async () => {
      await metadata.uploads.createUpload('state', repositoryId);
      // Every byte value, and more than a saved hash state (at most 112 bytes), so no encoding or length limit hides.
      const state = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256);
      assert.equal(await metadata.uploads.advanceUpload('state', 0, 1000, state), true);
      const row = await metadata.uploads.getUpload('state');
      assert.ok(row?.hashState instanceof Uint8Array);
      assert.deepEqual(row.hashState, state);
      assert.equal(await metadata.uploads.advanceUpload('state', 0, 2000, Uint8Array.of(1, 2, 3)), false);
      assert.deepEqual((await metadata.uploads.getUpload('state'))?.hashState, state, 'a failed compare-and-set leaves the state');
      assert.equal(await metadata.uploads.advanceUpload('state', 1000, 1500, null), true);
      assert.equal((await metadata.uploads.getUpload('state'))?.hashState, null);
    });

    it('deletes idempotently', async () => {
      await metadata.uploads.createUpload('gone', repositoryId);
      await metadata.uploads.deleteUpload('gone');
      await metadata.uploads.deleteUpload('gone');
      assert.equal(await metadata.uploads.getUpload('gone'), undefined);
    });

    it('lists uploads not written since a time, oldest first, up to the limit', async () => {
      clock = 1_800_000_000_000;
      await metadata.uploads.createUpload('stale-1', repositoryId);
      clock += 1000;
      await metadata.uploads.createUpload('stale-2', repositoryId);
      clock += 1000;
      await metadata.uploads.createUpload('fresh', repositoryId);
      await metadata.uploads.advanceUpload('stale-1', 0, 3, null); // written at the latest time: no longer stale
      const stale = await metadata.uploads.listStaleUploads(new Date(clock), 100);
      const ids = stale.map((u) => u.id);
      assert.ok(ids.includes('stale-2') && !ids.includes('stale-1') && !ids.includes('fresh'));
      assert.ok(ids.indexOf('5f0c6b1e-0000-4000-8000-000000000001') < ids.indexOf('stale-2'));
      assert.equal((await metadata.uploads.listStaleUploads(new Date(clock), 1)).length, 1);
      assert.deepEqual(await metadata.uploads.listStaleUploads(new Date(0), 100), []);
    });
  });
}
