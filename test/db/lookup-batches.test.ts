import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import { LOOKUP_BATCH_SIZE } from '../../src/db/lookup-batches.js';
import type { Metadata } from '../../src/db/metadata.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

// More than two batches, so that a lookup that does not split (or splits wrongly) is seen on every dialect.
const MANY = LOOKUP_BATCH_SIZE * 2 + 137;

for (const dialect of ALL_DIALECTS) {
  describe(`batched digest lookups on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let metadata: Metadata;
    before(async () => {
      fresh = await freshDatabase(dialect);
      metadata = createMetadata(fresh.database);
    });
    after(() => fresh.drop());

    it('finds exactly the blobs linked into the repository among more digests than one batch holds', async () => {
      const repo = await metadata.repositories.ensureRepository('batch/blobs');
      const other = await metadata.repositories.ensureRepository('batch/other');
      const all = range(1, MANY).map(digest);
      await fresh.database.db
        .insertInto('blob')
        .values(all.map((d) => ({ digest: d, size: 1, created_at: 0 })))
        .execute();
      const linked = all.filter((_, i) => i % 3 === 0);
      await fresh.database.db
        .insertInto('repository_blob')
        .values(linked.map((d) => ({ repository_id: repo.id, digest: d, created_at: 0 })))
        .execute();
      await metadata.blobs.linkBlob(other.id, all[1] as string);

      // Duplicates and digests nobody knows are fine to ask about.
      const asked = [...all, ...all.slice(0, 50), digest(999_999)];
      const found = await metadata.blobs.linkedDigests(repo.id, asked);
      assert.deepEqual([...found].sort(), [...linked].sort());
      assert.equal(found.has(all[1] as string), false, 'a blob linked only into another repository is not linked here');
      assert.deepEqual(await metadata.blobs.linkedDigests(repo.id, []), new Set());
    });

    it('finds exactly the manifests of the repository, and stores a manifest with more references than one batch', async () => {
      const repo = await metadata.repositories.ensureRepository('batch/manifests');
      const children = range(10_000, MANY).map(digest);
      // An index may only name manifests the repository has (checked under its lock, docs/gc.md): the
      // children exist first, written in bulk (one at a time would take minutes), 1 000 rows per insert to stay under every dialect's placeholder limit.
      const child = Buffer.from('{}');
      for (let start = 0; start < children.length; start += 1000) {
        await fresh.database.db
          .insertInto('manifest')
          .values(children.slice(start, start + 1000).map((d) => ({ repository_id: repo.id, digest: d, media_type: 'application/vnd.oci.image.manifest.v1+json', artifact_type: null, subject_digest: null, annotations: null, size: child.length, bytes: child, created_at: 0 })))
          .execute();
      }
      const bytes = Buffer.from(JSON.stringify({ n: MANY }));
      await metadata.manifests.putManifest(repo.id, {
        digest: digest(1_000_000),
        mediaType: 'application/vnd.oci.image.index.v1+json',
        artifactType: null,
        subjectDigest: null,
        annotations: null,
        bytes,
        references: children.map((d) => ({ digest: d, kind: 'manifest' as const })),
      });
      const stored = await fresh.database.db
        .selectFrom('manifest_reference')
        .select(({ fn }) => fn.countAll<number | string>().as('n'))
        .executeTakeFirstOrThrow();
      assert.equal(Number(stored.n), MANY, 'every reference row was written');

      const other = await metadata.repositories.ensureRepository('batch/manifests-elsewhere');
      const found = await metadata.manifests.presentManifests(repo.id, [...children, digest(1_000_000), digest(2_000_000)]);
      assert.equal(found.size, MANY + 1, 'every child and the index, not a digest nobody stored');
      assert.ok(found.has(digest(1_000_000)) && !found.has(digest(2_000_000)));
      assert.deepEqual([...(await metadata.manifests.presentManifests(other.id, children))], [], 'none of them in another repository');
    });
  });
}
