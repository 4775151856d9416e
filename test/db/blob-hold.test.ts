// holdLinkedBlob: a blob HEAD (docker, podman and skopeo skip the upload of a layer the registry says it has) must
// keep the link until the manifest that needs it arrives. Found by test/gc/soak.test.ts: a HEAD answered 200, GC
// unlinked the layer with the last manifest that used it, and the client's manifest PUT got MANIFEST_BLOB_UNKNOWN.
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/db/database.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import { MissingReferenceError, type GarbagePolicy, type Metadata } from '../../src/db/metadata.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { LOCK_WAIT_POLL_MS, lockWaits } from '../helpers/lock-waits.js';
import { waitUntil } from '../helpers/wait.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const HOUR = 3_600_000;

for (const dialect of ALL_DIALECTS) {
  describe(`holding a blob link against garbage collection on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let metadata: Metadata;
    let clock = 1_700_000_000_000;
    let next = 1;
    before(async () => {
      fresh = await freshDatabase(dialect);
      metadata = createMetadata(fresh.database, { now: () => clock });
    });
    after(() => fresh.drop());

    const policy = (): GarbagePolicy => ({ now: clock, timeMachineMs: HOUR, graceMs: HOUR });
    const image = (layer: string) => ({
      digest: digest(next++),
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: null,
      subjectDigest: null,
      annotations: null,
      bytes: Buffer.from(`image ${next}`),
      references: [{ digest: layer, kind: 'blob' as const }],
    });
    /** A repository with a layer whose only manifest is untagged, both written two hours ago (past the grace period). */
    async function staleLayer(): Promise<{ repo: number; layer: string }> {
      const repo = (await metadata.repositories.ensureRepository(`hold/r${next++}`)).id;
      const layer = digest(next++);
      await metadata.blobs.recordBlob(layer, 10);
      await metadata.blobs.linkBlob(repo, layer);
      await metadata.manifests.putManifest(repo, image(layer));
      clock += 2 * HOUR;
      return { repo, layer };
    }
    const touchedAt = async (repo: number, layer: string) => (await fresh.database.db.selectFrom('repository_blob')
      .select(sql<number | string>`coalesce(touched_at, created_at)`.as('at')).where('repository_id', '=', repo).where('digest', '=', layer).executeTakeFirstOrThrow()).at;

    it('without a hold, a collection between the HEAD and the manifest PUT unlinks the layer (the race the soak test found)', async () => {
      const { repo, layer } = await staleLayer();
      assert.ok(await metadata.blobs.getLinkedBlob(repo, layer), 'the HEAD finds the layer');
      assert.deepEqual((await metadata.garbage.collectRepository(repo, policy())).links, [layer]);
      await assert.rejects(metadata.manifests.putManifest(repo, image(layer)), MissingReferenceError);
    });

    it('a held link survives the collection that takes its last manifest, and the next manifest PUT is accepted', async () => {
      const { repo, layer } = await staleLayer();
      assert.equal((await metadata.blobs.holdLinkedBlob(repo, layer, HOUR))?.digest, layer);
      const garbage = await metadata.garbage.collectRepository(repo, policy());
      assert.equal(garbage.manifests.length, 1, 'the old manifest is still collected');
      assert.deepEqual(garbage.links, [], 'the held link is not');
      await metadata.manifests.putManifest(repo, image(layer), ['latest']);
      assert.ok(await metadata.manifests.getTaggedManifest(repo, 'latest'));
      clock += HOUR / 2 - 1;
      assert.deepEqual((await metadata.garbage.collectRepository(repo, policy())).links, [], 'referenced now');
    });

    it('writes only a link older than half the grace period, and answers undefined once GC removed the link', async () => {
      const { repo, layer } = await staleLayer();
      await metadata.blobs.holdLinkedBlob(repo, layer, HOUR);
      const refreshed = await touchedAt(repo, layer);
      assert.equal(Number(refreshed), clock);
      clock += HOUR / 2 - 1;
      assert.ok(await metadata.blobs.holdLinkedBlob(repo, layer, HOUR));
      assert.equal(Number(await touchedAt(repo, layer)), Number(refreshed), 'a fresh link is only read');
      clock += 2 * HOUR;
      await metadata.garbage.collectRepository(repo, policy());
      assert.equal(await metadata.blobs.holdLinkedBlob(repo, layer, HOUR), undefined);
    });

    // SQLite has one writer (BEGIN IMMEDIATE): a collection and a hold cannot overlap there.
    if (dialect !== 'sqlite') it('waits for a collection that holds the link locked, then answers undefined', async () => {
      const { repo, layer } = await staleLayer();
      const second = await openDatabase({ uri: fresh.uri });
      let release!: () => void;
      const released = new Promise<void>((done) => (release = done));
      let locked!: () => void;
      const lockTaken = new Promise<void>((done) => (locked = done));
      try {
        // What collectRepository does to a link it deletes: a locking re-read, the delete, then (here, later) the commit.
        const collection = second.db.transaction().execute(async (trx) => {
          await trx.selectFrom('repository_blob').select('digest').where('repository_id', '=', repo).where('digest', '=', layer).forUpdate().execute();
          await trx.deleteFrom('repository_blob').where('repository_id', '=', repo).where('digest', '=', layer).execute();
          locked();
          await released;
        });
        await lockTaken;
        let settled = false;
        const hold = metadata.blobs.holdLinkedBlob(repo, layer, HOUR).finally(() => (settled = true));
        await waitUntil('the hold to wait for the collection\'s row lock', async () => (await lockWaits(fresh)) > 0, 20_000, LOCK_WAIT_POLL_MS);
        assert.equal(settled, false);
        release();
        await collection;
        assert.equal(await hold, undefined, 'the link went with the collection, so the client must upload the layer');
      } finally {
        release();
        await second.close();
      }
    });
  });
}
