// docs/gc.md's race-freedom argument, one interleaving at a time, on the dialects with row locks (PostgreSQL and
// MariaDB; SQLite has one writer). A second connection plays garbage collection (or a push) and holds its locks,
// the statement under test is started, the test waits until the database shows it blocked on that lock, then the
// second connection commits and the outcome is checked.
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { after, before, describe, it } from 'node:test';
import { openDatabase, type Database } from '../../src/db/database.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import { MissingReferenceError, type GarbagePolicy, type Metadata } from '../../src/db/metadata.js';
import type { Schema } from '../../src/db/schema.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { LOCK_WAIT_POLL_MS, lockWaits } from '../helpers/lock-waits.js';
import { waitUntil } from '../helpers/wait.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const HOUR = 3_600_000;

for (const dialect of ['postgres', 'mysql'] as const) {
  describe(`GC against pushes, one interleaving at a time, on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let second: Database;
    let metadata: Metadata;
    let clock = 1_700_000_000_000;
    let next = 1;
    before(async () => {
      fresh = await freshDatabase(dialect);
      second = await openDatabase({ uri: fresh.uri });
      metadata = createMetadata(fresh.database, { now: () => clock });
    });
    after(async () => {
      await second.close();
      await fresh.drop();
    });

    const policy = (): GarbagePolicy => ({ now: clock, timeMachineMs: HOUR, graceMs: HOUR });
    const image = (layer: string) => ({
      digest: digest(next++), mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: null, subjectDigest: null,
      annotations: null, bytes: Buffer.from(`image ${next}`), references: [{ digest: layer, kind: 'blob' as const }],
    });
    /** The repository row lock inRepositoryTransaction takes (src/db/query-helpers.ts). */
    async function lockRepository(trx: Kysely<Schema>, repo: number): Promise<void> {
      const lock = trx.selectFrom('repository').select('id').where('id', '=', repo);
      await (dialect === 'postgres' ? lock.forNoKeyUpdate() : lock.forUpdate()).execute();
    }
    /** A repository with a recorded, linked layer, written two hours before `clock` moves on. */
    async function linkedLayer(): Promise<{ repo: number; layer: string }> {
      const repo = (await metadata.repositories.ensureRepository(`race/r${next++}`)).id;
      const layer = digest(next++);
      await metadata.blobs.recordBlob(layer, 10);
      await metadata.blobs.linkBlob(repo, layer);
      clock += 2 * HOUR;
      return { repo, layer };
    }

    /**
     * Runs `hold` in a transaction on the second connection, then `contender` on the first; once the contender
     * waits for a lock, the transaction commits. Returns the contender's outcome (its value or its error).
     */
    async function whileHeld<T>(hold: (trx: Kysely<Schema>) => Promise<void>, contender: () => Promise<T>): Promise<{ value?: T; error?: unknown }> {
      let release!: () => void;
      const released = new Promise<void>((done) => (release = done));
      let held!: () => void;
      const heldNow = new Promise<void>((done) => (held = done));
      const transaction = second.db.transaction().execute(async (trx) => {
        await hold(trx);
        held();
        await released;
      });
      try {
        await heldNow;
        const outcome = contender().then((value) => ({ value }), (error: unknown) => ({ error }));
        await waitUntil('the contender to wait for the held lock', async () => (await lockWaits(fresh)) > 0, 20_000, LOCK_WAIT_POLL_MS);
        release();
        await transaction;
        return await outcome;
      } finally {
        release();
      }
    }

    it('a manifest PUT waiting for the repository lock of a collection that unlinks its layer is refused, and writes nothing', async () => {
      const { repo, layer } = await linkedLayer();
      const pushed = image(layer);
      // What collectRepository does: the repository row lock first, then the link's locking re-read and delete.
      const outcome = await whileHeld(async (trx) => {
        await lockRepository(trx, repo);
        await trx.selectFrom('repository_blob').select('digest').where('repository_id', '=', repo).where('digest', '=', layer).forUpdate().execute();
        await trx.deleteFrom('repository_blob').where('repository_id', '=', repo).where('digest', '=', layer).execute();
      }, () => metadata.manifests.putManifest(repo, pushed, ['latest']));
      assert.ok(outcome.error instanceof MissingReferenceError, `refused with MissingReferenceError, got ${String(outcome.error ?? 'success')}`);
      assert.equal(await metadata.manifests.hasManifest(repo, pushed.digest), false);
      assert.equal(await metadata.manifests.getTaggedManifest(repo, 'latest'), undefined);
    });

    it('a collection waiting for the repository lock of a push that references a layer keeps the layer\'s link', async () => {
      const { repo, layer } = await linkedLayer();
      const pushed = image(layer);
      // What putManifest does under the lock: the manifest, its reference and its tag, committed together.
      const outcome = await whileHeld(async (trx) => {
        await lockRepository(trx, repo);
        await trx.insertInto('manifest').values({
          repository_id: repo, digest: pushed.digest, media_type: pushed.mediaType, artifact_type: null, subject_digest: null,
          annotations: null, size: pushed.bytes.length, bytes: pushed.bytes, created_at: clock - 2 * HOUR,
        }).execute();
        const { id } = await trx.selectFrom('manifest').select('id').where('repository_id', '=', repo).where('digest', '=', pushed.digest).executeTakeFirstOrThrow();
        await trx.insertInto('manifest_reference').values({ manifest_id: id, digest: layer, kind: 'blob' }).execute();
        await trx.insertInto('tag').values({ repository_id: repo, name: 'latest', manifest_digest: pushed.digest, lifetime_start: clock, lifetime_end: null }).execute();
      }, () => metadata.garbage.collectRepository(repo, policy()));
      assert.equal(outcome.error, undefined, String(outcome.error));
      assert.deepEqual(outcome.value, { manifests: [], links: [], expiredTagLifetimes: 0 }, 'the collection saw the committed push');
      assert.ok(await metadata.blobs.getLinkedBlob(repo, layer));
    });

    it('a link insert waiting on a blob row a collection is removing fails, so no link to a removed blob exists', async () => {
      const { repo, layer } = await linkedLayer();
      await metadata.blobs.unlinkBlob(repo, layer);
      const other = (await metadata.repositories.ensureRepository(`race/r${next++}`)).id;
      // What collectBlob does: the blob row locked, the stored object deleted (here: nothing), the row deleted.
      const outcome = await whileHeld(async (trx) => {
        await trx.selectFrom('blob').select('digest').where('digest', '=', layer).forUpdate().execute();
        await trx.deleteFrom('blob').where('digest', '=', layer).execute();
      }, () => metadata.blobs.linkBlob(other, layer));
      assert.ok(outcome.error instanceof Error, 'the insert failed on the foreign key');
      assert.equal(await metadata.blobs.getLinkedBlob(other, layer), undefined);
      assert.equal(await metadata.blobs.getBlob(layer), undefined);
    });

    it('an upload\'s recordBlob waiting on a collection of the same blob records it again, so the upload re-checks storage', async () => {
      const { repo, layer } = await linkedLayer();
      await metadata.blobs.unlinkBlob(repo, layer);
      const outcome = await whileHeld(async (trx) => {
        await trx.selectFrom('blob').select('digest').where('digest', '=', layer).forUpdate().execute();
        await trx.deleteFrom('blob').where('digest', '=', layer).execute();
      }, () => metadata.blobs.recordBlob(layer, 10));
      assert.equal(outcome.error, undefined, String(outcome.error));
      const again = await metadata.blobs.getBlob(layer);
      assert.ok(again, 'a new row: the upload then finds the object gone and asks for the blob again (docs/gc.md)');
      assert.deepEqual(await metadata.garbage.listGarbageBlobs(policy(), 10).then((rows) => rows.filter((r) => r.digest === layer)), [], 'fresh: not garbage');
    });
  });
}
