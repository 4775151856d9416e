import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

for (const dialect of ALL_DIALECTS) {
  describe(`blobs on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let metadata: Metadata;
    let clock = 1_700_000_000_000;
    before(async () => {
      fresh = await freshDatabase(dialect);
      metadata = createMetadata(fresh.database, { now: () => clock });
    });
    after(() => fresh.drop());

    it('records a blob once, keeping the first size and time', async () => {
      assert.equal(await metadata.blobs.getBlob(digest(1)), undefined);
      await metadata.blobs.recordBlob(digest(1), 5_000_000_000);
      clock += 1000;
      await metadata.blobs.recordBlob(digest(1), 5_000_000_000);
      assert.deepEqual(await metadata.blobs.getBlob(digest(1)), {
        digest: digest(1),
        size: 5_000_000_000,
        createdAt: new Date(clock - 1000),
      });
    });

    it('links, finds only in the linked repository, and unlinks', async () => {
      const a = await metadata.repositories.ensureRepository('link/a');
      const b = await metadata.repositories.ensureRepository('link/b');
      await metadata.blobs.recordBlob(digest(2), 42);
      await metadata.blobs.linkBlob(a.id, digest(2));
      await metadata.blobs.linkBlob(a.id, digest(2));
      assert.equal((await metadata.blobs.getLinkedBlob(a.id, digest(2)))?.size, 42);
      assert.equal(await metadata.blobs.getLinkedBlob(b.id, digest(2)), undefined);
      assert.equal(await metadata.blobs.unlinkBlob(b.id, digest(2)), false);
      assert.equal(await metadata.blobs.unlinkBlob(a.id, digest(2)), true);
      assert.equal(await metadata.blobs.unlinkBlob(a.id, digest(2)), false);
      assert.equal(await metadata.blobs.getLinkedBlob(a.id, digest(2)), undefined);
      assert.ok(await metadata.blobs.getBlob(digest(2)), 'unlinking keeps the blob row');
    });

    it('sums the distinct blobs each repository links, a page of repositories at once', async () => {
      const a = await metadata.repositories.ensureRepository('size/a');
      const b = await metadata.repositories.ensureRepository('size/b');
      const empty = await metadata.repositories.ensureRepository('size/empty');
      await metadata.blobs.recordBlob(digest(500), 3_000_000_000);
      await metadata.blobs.recordBlob(digest(501), 7);
      await metadata.blobs.linkBlob(a.id, digest(500));
      await metadata.blobs.linkBlob(a.id, digest(501));
      await metadata.blobs.linkBlob(a.id, digest(501));
      await metadata.blobs.linkBlob(b.id, digest(501));
      const sizes = await metadata.blobs.linkedBytes([a.id, b.id, empty.id]);
      assert.equal(sizes.get(a.id), 3_000_000_007);
      assert.equal(sizes.get(b.id), 7);
      assert.equal(sizes.has(empty.id), false);
      assert.equal((await metadata.blobs.linkedBytes([])).size, 0);
    });

    it('refuses to link a blob that was never recorded', async () => {
      const repo = await metadata.repositories.ensureRepository('link/unrecorded');
      await assert.rejects(metadata.blobs.linkBlob(repo.id, digest(999)));
      assert.equal(await metadata.blobs.getLinkedBlob(repo.id, digest(999)), undefined);
    });

    it('lists blobs neither linked nor referenced, oldest first, up to the limit, then forgets them', async () => {
      const repo = await metadata.repositories.ensureRepository('gc/repo');
      for (const n of [10, 11, 12, 13]) {
        clock += 10;
        await metadata.blobs.recordBlob(digest(n), n);
      }
      await metadata.blobs.linkBlob(repo.id, digest(11));
      // Referenced but no longer linked: the manifest needs the link when it is stored.
      await metadata.blobs.linkBlob(repo.id, digest(12));
      await metadata.manifests.putManifest(repo.id, {
        digest: digest(100),
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: null,
        subjectDigest: null,
        annotations: null,
        bytes: Buffer.from('{}'),
        references: [{ digest: digest(12), kind: 'blob' }],
      });
      await metadata.blobs.unlinkBlob(repo.id, digest(12));
      const unreferenced = await metadata.blobs.listUnreferencedBlobs(100);
      assert.ok(unreferenced.includes(digest(10)) && unreferenced.includes(digest(13)));
      assert.ok(!unreferenced.includes(digest(11)), 'linked blob listed');
      assert.ok(!unreferenced.includes(digest(12)), 'referenced blob listed');
      assert.ok(unreferenced.indexOf(digest(10)) < unreferenced.indexOf(digest(13)));
      assert.equal((await metadata.blobs.listUnreferencedBlobs(1)).length, 1);

      await metadata.blobs.forgetBlob(digest(10));
      assert.equal(await metadata.blobs.getBlob(digest(10)), undefined);
      await metadata.blobs.forgetBlob(digest(10));
      assert.ok(!(await metadata.blobs.listUnreferencedBlobs(100)).includes(digest(10)));
    });

    it('refuses to forget a blob a repository still links', async () => {
      const repo = await metadata.repositories.ensureRepository('gc/linked');
      await metadata.blobs.recordBlob(digest(20), 1);
      await metadata.blobs.linkBlob(repo.id, digest(20));
      await assert.rejects(metadata.blobs.forgetBlob(digest(20)));
      assert.ok(await metadata.blobs.getLinkedBlob(repo.id, digest(20)));
    });

    it('survives concurrent record and link of the same digest', async () => {
      const repo = await metadata.repositories.ensureRepository('race/blobs');
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          await metadata.blobs.recordBlob(digest(30), 7);
          await metadata.blobs.linkBlob(repo.id, digest(30));
        }),
      );
      assert.equal((await metadata.blobs.getLinkedBlob(repo.id, digest(30)))?.size, 7);
      assert.equal(await metadata.blobs.unlinkBlob(repo.id, digest(30)), true);
      assert.equal(await metadata.blobs.unlinkBlob(repo.id, digest(30)), false);
    });
  });
}
