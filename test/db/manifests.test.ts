import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata, NewManifest } from '../../src/db/metadata.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const IMAGE = 'application/vnd.oci.image.manifest.v1+json';

function manifest(n: number, extra: Partial<NewManifest> = {}): NewManifest {
  return {
    digest: digest(n),
    mediaType: IMAGE,
    artifactType: null,
    subjectDigest: null,
    annotations: null,
    bytes: Buffer.from(JSON.stringify({ schemaVersion: 2, n })),
    references: [],
    ...extra,
  };
}

for (const dialect of ALL_DIALECTS) {
  describe(`manifests on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let metadata: Metadata;
    let clock = 1_700_000_000_000;
    let repo: number;
    let other: number;
    before(async () => {
      fresh = await freshDatabase(dialect);
      metadata = createMetadata(fresh.database, { now: () => clock });
      repo = (await metadata.repositories.ensureRepository('m/repo')).id;
      other = (await metadata.repositories.ensureRepository('m/other')).id;
    });
    after(() => fresh.drop());

    it('stores the exact bytes and every field, and reads them back typed', async () => {
      const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.alloc(300_000, 0x7b)]);
      const input = manifest(1, {
        artifactType: 'application/vnd.example.sbom',
        subjectDigest: digest(2),
        annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'ünïcode': '✓' },
        bytes,
        references: [{ digest: digest(3), kind: 'blob' }],
      });
      await metadata.blobs.recordBlob(digest(3), 1);
      await metadata.blobs.linkBlob(repo, digest(3));
      const stored = await metadata.manifests.putManifest(repo, input);
      assert.equal(typeof stored.id, 'number');
      assert.deepEqual({ ...stored, id: 0 }, {
        id: 0,
        repositoryId: repo,
        digest: digest(1),
        mediaType: IMAGE,
        artifactType: 'application/vnd.example.sbom',
        subjectDigest: digest(2),
        annotations: input.annotations,
        size: bytes.length,
        bytes,
        createdAt: new Date(clock),
      });
      assert.ok(Buffer.isBuffer(stored.bytes));
      assert.deepEqual(await metadata.manifests.getManifest(repo, digest(1)), stored);
    });

    it('is idempotent: a second put returns the first row', async () => {
      const first = await metadata.manifests.putManifest(repo, manifest(10));
      clock += 1000;
      const second = await metadata.manifests.putManifest(repo, manifest(10));
      assert.deepEqual(second, first);
    });

    it('resolves a current tag to its manifest in one lookup, never a moved or deleted one or another repository\'s', async () => {
      await metadata.manifests.putManifest(repo, manifest(240));
      await metadata.manifests.putManifest(repo, manifest(241));
      await metadata.manifests.putManifest(other, manifest(242));
      await metadata.tags.setTag(repo, 'moving', digest(240));
      assert.equal((await metadata.manifests.getTaggedManifest(repo, 'moving'))?.digest, digest(240));
      clock += 1000;
      await metadata.tags.setTag(repo, 'moving', digest(241));
      const moved = await metadata.manifests.getTaggedManifest(repo, 'moving');
      assert.equal(moved?.digest, digest(241));
      assert.deepEqual(moved?.bytes, manifest(241).bytes);
      await metadata.tags.setTag(other, 'elsewhere', digest(242));
      assert.equal(await metadata.manifests.getTaggedManifest(repo, 'elsewhere'), undefined);
      clock += 1000;
      await metadata.tags.deleteTag(repo, 'moving');
      assert.equal(await metadata.manifests.getTaggedManifest(repo, 'moving'), undefined);
      assert.equal(await metadata.manifests.getTaggedManifest(repo, 'never'), undefined);
    });

    it('keeps repositories apart', async () => {
      await metadata.manifests.putManifest(repo, manifest(20));
      assert.equal(await metadata.manifests.hasManifest(repo, digest(20)), true);
      assert.equal(await metadata.manifests.hasManifest(other, digest(20)), false);
      assert.equal(await metadata.manifests.getManifest(other, digest(20)), undefined);
      const copy = await metadata.manifests.putManifest(other, manifest(20));
      assert.equal(copy.repositoryId, other);
    });

    it('deletes the manifest and its references, and ends the tags pointing at it', async () => {
      await metadata.blobs.recordBlob(digest(31), 1);
      await metadata.blobs.linkBlob(repo, digest(31));
      await metadata.manifests.putManifest(repo, manifest(32));
      await metadata.manifests.putManifest(repo, manifest(30, {
        references: [{ digest: digest(31), kind: 'blob' }, { digest: digest(31), kind: 'blob' }, { digest: digest(32), kind: 'manifest' }],
      }));
      await metadata.manifests.putManifest(repo, manifest(33));
      await metadata.manifests.putManifest(other, manifest(30));
      await metadata.blobs.unlinkBlob(repo, digest(31));
      assert.ok(!(await metadata.blobs.listUnreferencedBlobs(1000)).includes(digest(31)));
      await metadata.tags.setTag(repo, 'v1', digest(30));
      await metadata.tags.setTag(repo, 'latest', digest(30));
      await metadata.tags.setTag(repo, 'keep', digest(33));
      await metadata.tags.setTag(other, 'v1', digest(30));
      clock += 5000;

      assert.equal(await metadata.manifests.deleteManifest(repo, digest(30)), true);
      assert.equal(await metadata.manifests.deleteManifest(repo, digest(30)), false);
      assert.equal(await metadata.manifests.hasManifest(repo, digest(30)), false);
      assert.ok((await metadata.blobs.listUnreferencedBlobs(1000)).includes(digest(31)), 'references removed');
      assert.equal(await metadata.tags.getTag(repo, 'v1'), undefined);
      assert.equal(await metadata.tags.getTag(repo, 'latest'), undefined);
      assert.equal((await metadata.tags.getTag(repo, 'keep'))?.manifestDigest, digest(33));
      assert.equal((await metadata.tags.getTag(other, 'v1'))?.manifestDigest, digest(30), 'other repository untouched');
      const history = await metadata.tags.tagHistory(repo, 'v1');
      assert.equal(history.length, 1);
      assert.deepEqual(history[0]?.lifetimeEnd, new Date(clock));
    });

    it('lists referrers of a subject, optionally of one artifact type', async () => {
      const subject = digest(40);
      const put = (n: number, artifactType: string | null, subjectDigest: string | null, into = repo) => {
        clock += 1;
        return metadata.manifests.putManifest(into, manifest(n, { artifactType, subjectDigest, annotations: { n: String(n) } }));
      };
      await put(40, null, null);
      await put(41, 'application/vnd.example.sig', subject);
      await put(42, 'application/vnd.example.sbom', subject);
      await put(43, 'application/vnd.example.sig', subject);
      await put(44, 'application/vnd.example.sig', digest(99));
      await put(45, 'application/vnd.example.sig', subject, other);

      const all = await metadata.manifests.listReferrers(repo, subject);
      assert.deepEqual(all.map((m) => m.digest), [digest(41), digest(42), digest(43)]);
      assert.deepEqual(all[0]?.annotations, { n: '41' });
      assert.equal(all[0]?.artifactType, 'application/vnd.example.sig');
      assert.equal(all[0]?.subjectDigest, subject);
      assert.ok(!('bytes' in all[0]!) && !('repositoryId' in all[0]!));
      const sigs = await metadata.manifests.listReferrers(repo, subject, 'application/vnd.example.sig');
      assert.deepEqual(sigs.map((m) => m.digest), [digest(41), digest(43)]);
      assert.deepEqual(await metadata.manifests.listReferrers(repo, subject, 'application/none'), []);
      assert.deepEqual(await metadata.manifests.listReferrers(repo, digest(12345)), []);
    });

    it('survives concurrent puts of the same manifest', async () => {
      const input = manifest(50, { references: [{ digest: digest(51), kind: 'blob' }] });
      await metadata.blobs.recordBlob(digest(51), 1);
      await metadata.blobs.linkBlob(repo, digest(51));
      const results = await Promise.all(Array.from({ length: 20 }, () => metadata.manifests.putManifest(repo, input)));
      assert.equal(new Set(results.map((r) => r.id)).size, 1);
      assert.deepEqual(results[0]?.bytes, input.bytes);
      await metadata.blobs.unlinkBlob(repo, digest(51));
      assert.ok(!(await metadata.blobs.listUnreferencedBlobs(1000)).includes(digest(51)));
    });
  });
}
