import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/db/database.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import { MissingReferenceError, type GarbagePolicy, type Metadata, type ManifestReference } from '../../src/db/metadata.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

for (const dialect of ALL_DIALECTS) {
  describe(`garbage collection store on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let metadata: Metadata;
    let clock = 1_700_000_000_000;
    let next = 1;
    before(async () => {
      fresh = await freshDatabase(dialect);
      metadata = createMetadata(fresh.database, { now: () => clock });
    });
    after(() => fresh.drop());

    /** A window of one day and a grace of one hour, as of the current clock. */
    const policy = (): GarbagePolicy => ({ now: clock, timeMachineMs: DAY, graceMs: HOUR });

    async function repository(): Promise<number> {
      return (await metadata.repositories.ensureRepository(`gc/r${next++}`)).id;
    }
    async function blob(repo: number, n = next++): Promise<string> {
      await metadata.blobs.recordBlob(digest(n), n);
      await metadata.blobs.linkBlob(repo, digest(n));
      return digest(n);
    }
    async function manifest(repo: number, references: ManifestReference[], subject: string | null = null): Promise<string> {
      const d = digest(next++);
      await metadata.manifests.putManifest(repo, {
        digest: d,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: null,
        subjectDigest: subject,
        annotations: null,
        bytes: Buffer.from(d),
        references,
      });
      return d;
    }
    const blobs = (...digests: string[]): ManifestReference[] => digests.map((d) => ({ digest: d, kind: 'blob' }));
    /** Collects every repository and then every garbage blob; returns the blobs removed. */
    async function collectAll(): Promise<string[]> {
      for (const id of await metadata.garbage.listRepositoryIds(0, 10_000)) await metadata.garbage.collectRepository(id, policy());
      const removed: string[] = [];
      for (const b of await metadata.garbage.listGarbageBlobs(policy(), 10_000)) {
        if (await metadata.garbage.collectBlob(b.digest, policy(), async () => undefined)) removed.push(b.digest);
      }
      return removed;
    }

    it('keeps tagged manifests and their blobs, removes an untagged one after the grace period, its links, then its blobs', async () => {
      const repo = await repository();
      const [shared, own, config] = [await blob(repo), await blob(repo), await blob(repo)];
      const kept = await manifest(repo, blobs(shared, config));
      const dropped = await manifest(repo, blobs(shared, own));
      await metadata.tags.setTag(repo, 'latest', kept);

      assert.deepEqual((await metadata.garbage.findRepositoryGarbage(repo, policy())).manifests, [], 'inside the grace period nothing is garbage');
      clock += 2 * HOUR;
      const found = await metadata.garbage.findRepositoryGarbage(repo, policy());
      assert.deepEqual(found.manifests, [dropped]);
      assert.deepEqual(found.links, [own], 'the shared layer stays linked');
      assert.ok(await metadata.manifests.hasManifest(repo, dropped), 'a dry run removes nothing');

      const removed = await metadata.garbage.collectRepository(repo, policy());
      assert.deepEqual(removed, found);
      assert.equal(await metadata.manifests.hasManifest(repo, dropped), false);
      assert.ok(await metadata.manifests.hasManifest(repo, kept));
      assert.equal(await metadata.blobs.getLinkedBlob(repo, own), undefined);
      assert.ok(await metadata.blobs.getLinkedBlob(repo, shared));
      const gone = await collectAll();
      assert.ok(gone.includes(own) && !gone.includes(shared) && !gone.includes(config));
      assert.equal(await metadata.blobs.getBlob(own), undefined);
      assert.ok(await metadata.blobs.getBlob(shared));
    });

    it('keeps a deleted or moved tag\'s manifest for the time machine window, then removes it with the history', async () => {
      const repo = await repository();
      const layer = await blob(repo);
      const first = await manifest(repo, blobs(layer));
      const second = await manifest(repo, []);
      await metadata.tags.setTag(repo, 'moving', first);
      await metadata.tags.setTag(repo, 'moving', second);
      const deleted = await manifest(repo, []);
      await metadata.tags.setTag(repo, 'gone', deleted);
      await metadata.tags.deleteTag(repo, 'gone');
      clock += DAY - HOUR;
      assert.deepEqual((await metadata.garbage.collectRepository(repo, policy())).manifests, [], 'inside the window');
      assert.equal((await metadata.tags.tagHistory(repo)).length, 3);
      clock += 2 * HOUR;
      const removed = await metadata.garbage.collectRepository(repo, policy());
      assert.deepEqual(removed.manifests, [first, deleted].sort());
      assert.deepEqual(removed.links, [layer]);
      assert.equal(removed.expiredTagLifetimes, 2);
      assert.deepEqual((await metadata.tags.tagHistory(repo)).map((t) => t.manifestDigest), [second]);
    });

    it('keeps the children of a tagged index and the referrers of a present subject, and removes them with it', async () => {
      const repo = await repository();
      const layer = await blob(repo);
      const child = await manifest(repo, blobs(layer));
      const index = await manifest(repo, [{ digest: child, kind: 'manifest' }]);
      const signature = await manifest(repo, [], index);
      const orphanReferrer = await manifest(repo, [], digest(987_654));
      await metadata.tags.setTag(repo, 'multi', index);
      clock += 2 * HOUR;
      assert.deepEqual((await metadata.garbage.collectRepository(repo, policy())).manifests, [orphanReferrer]);
      assert.ok(await metadata.manifests.hasManifest(repo, child));
      assert.ok(await metadata.manifests.hasManifest(repo, signature));

      await metadata.tags.deleteTag(repo, 'multi');
      clock += DAY + HOUR;
      const removed = await metadata.garbage.collectRepository(repo, policy());
      assert.deepEqual(removed.manifests, [child, index, signature].sort());
      assert.deepEqual(removed.links, [layer]);
    });

    it('keeps a blob another repository links (cross-repository mount) after one repository lets it go', async () => {
      const [a, b] = [await repository(), await repository()];
      const layer = await blob(a);
      await metadata.blobs.linkBlob(b, layer);
      const inA = await manifest(a, blobs(layer));
      const inB = await manifest(b, blobs(layer));
      await metadata.tags.setTag(b, 'keep', inB);
      clock += 2 * HOUR;
      assert.deepEqual((await metadata.garbage.collectRepository(a, policy())).manifests, [inA]);
      assert.equal(await metadata.blobs.getLinkedBlob(a, layer), undefined);
      assert.ok(!(await collectAll()).includes(layer));
      assert.ok(await metadata.blobs.getLinkedBlob(b, layer));
      assert.ok(await metadata.blobs.getBlob(layer));
    });

    it('spares a blob and a link touched again inside the grace period', async () => {
      const repo = await repository();
      const layer = await blob(repo);
      clock += 2 * HOUR;
      await metadata.blobs.linkBlob(repo, layer);
      assert.deepEqual((await metadata.garbage.collectRepository(repo, policy())).links, [], 'relinked: fresh');
      await metadata.blobs.unlinkBlob(repo, layer);
      assert.ok((await metadata.garbage.listGarbageBlobs(policy(), 10_000)).some((b) => b.digest === layer), 'unlinked, recorded two hours ago');
      await metadata.blobs.recordBlob(layer, 1);
      assert.equal(await metadata.garbage.collectBlob(layer, policy(), async () => assert.fail('deleted a touched blob')), false);
    });

    it('keeps the row when deleting the stored object fails, and removes it on the next try', async () => {
      await metadata.blobs.recordBlob(digest(next), 1);
      const lonely = digest(next++);
      clock += 2 * HOUR;
      await assert.rejects(metadata.garbage.collectBlob(lonely, policy(), async () => {
        throw new Error('storage down');
      }), /storage down/);
      assert.ok(await metadata.blobs.getBlob(lonely));
      let deleted = 0;
      assert.equal(await metadata.garbage.collectBlob(lonely, policy(), async () => {
        deleted += 1;
      }), true);
      assert.equal(deleted, 1);
      assert.equal(await metadata.blobs.getBlob(lonely), undefined);
    });

    it('refuses a manifest whose blob link was collected, and a tag on a collected manifest', async () => {
      const repo = await repository();
      const layer = await blob(repo);
      const old = await manifest(repo, []);
      clock += 2 * HOUR;
      const removed = await metadata.garbage.collectRepository(repo, policy());
      assert.deepEqual(removed.links, [layer]);
      await assert.rejects(manifest(repo, blobs(layer)), (error) => error instanceof MissingReferenceError && error.digest === layer);
      await assert.rejects(metadata.tags.setTag(repo, 'late', old), MissingReferenceError);
    });

    it('writes a multi-tag push with its tags in one transaction', async () => {
      const repo = await repository();
      const d = digest(next++);
      const input = { digest: d, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: null, subjectDigest: null, annotations: null, bytes: Buffer.from(d), references: [] };
      await metadata.manifests.putManifest(repo, input, ['a', 'b']);
      assert.deepEqual(await metadata.tags.listTags(repo, { limit: 10 }), ['a', 'b']);
      await metadata.manifests.putManifest(repo, input, ['c']);
      assert.deepEqual(await metadata.tags.listTags(repo, { limit: 10 }), ['a', 'b', 'c']);
      const missing = { ...input, digest: digest(next++), references: blobs(digest(555_555)) };
      await assert.rejects(metadata.manifests.putManifest(repo, missing, ['d']), MissingReferenceError);
      assert.deepEqual(await metadata.tags.listTags(repo, { limit: 10 }), ['a', 'b', 'c'], 'no tag of a refused push');
    });

    it('gives a lease to one holder at a time until it expires or is released', async () => {
      assert.equal(await metadata.garbage.acquireLease('repo:1', 'a', clock, 1000), true);
      assert.equal(await metadata.garbage.acquireLease('repo:1', 'b', clock + 10, 1000), false);
      assert.equal(await metadata.garbage.acquireLease('repo:1', 'a', clock + 10, 1000), true, 'renewal');
      assert.equal(await metadata.garbage.acquireLease('repo:1', 'b', clock + 2000, 1000), true, 'expired');
      await metadata.garbage.releaseLease('repo:1', 'a');
      assert.equal(await metadata.garbage.acquireLease('repo:1', 'a', clock + 2010, 1000), false, 'a released nothing it did not hold');
      await metadata.garbage.releaseLease('repo:1', 'b');
      assert.equal(await metadata.garbage.acquireLease('repo:1', 'a', clock + 2020, 1000), true);
    });

    it('never leaves a manifest referencing a collected link when pushes and collection race on two pools', async () => {
      // SQLite serialises writers on its single connection; the race needs two pools (PostgreSQL, MySQL).
      const second = dialect === 'sqlite' ? fresh.database : await openDatabase({ uri: fresh.uri });
      try {
        const other = createMetadata(second, { now: () => clock });
        const repo = await repository();
        const layers: string[] = [];
        for (let i = 0; i < 30; i++) layers.push(await blob(repo));
        clock += 2 * HOUR;
        const pushes = layers.map(async (layer) => {
          try {
            return await manifest(repo, blobs(layer));
          } catch (error) {
            if (error instanceof MissingReferenceError) return undefined;
            throw error;
          }
        });
        const collections = Array.from({ length: 5 }, () => other.garbage.collectRepository(repo, policy()));
        const [pushed] = await Promise.all([Promise.all(pushes), Promise.all(collections)]);
        for (const [i, d] of pushed.entries()) {
          if (d === undefined) {
            assert.equal(await metadata.blobs.getLinkedBlob(repo, layers[i]!), undefined, 'refused only when the link was gone');
            continue;
          }
          assert.ok(await metadata.blobs.getLinkedBlob(repo, layers[i]!), `manifest ${d} stored but its layer ${layers[i]} unlinked`);
        }
      } finally {
        if (second !== fresh.database) await second.close();
      }
    });
  });
}
