import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import { MissingReferenceError, type Metadata } from '../../src/db/metadata.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

/** Tags point at manifests that must be present: stores the (empty) manifest first. */
async function setTag(metadata: Metadata, repo: number, name: string, manifestDigest: string): Promise<void> {
  await metadata.manifests.putManifest(repo, {
    digest: manifestDigest,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: null,
    subjectDigest: null,
    annotations: null,
    bytes: Buffer.from(manifestDigest),
    references: [],
  });
  await metadata.tags.setTag(repo, name, manifestDigest);
}

for (const dialect of ALL_DIALECTS) {
  describe(`tags on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let metadata: Metadata;
    let clock = 1_700_000_000_000;
    before(async () => {
      fresh = await freshDatabase(dialect);
      metadata = createMetadata(fresh.database, { now: () => clock });
    });
    after(() => fresh.drop());

    it('refuses to point a tag at a manifest the repository does not hold', async () => {
      const repo = (await metadata.repositories.ensureRepository('t/missing')).id;
      await assert.rejects(metadata.tags.setTag(repo, 'latest', digest(999)), MissingReferenceError);
      assert.equal(await metadata.tags.getTag(repo, 'latest'), undefined);
    });

    it('sets, re-sets idempotently, moves and keeps history', async () => {
      const repo = (await metadata.repositories.ensureRepository('t/move')).id;
      assert.equal(await metadata.tags.getTag(repo, 'latest'), undefined);
      const t1 = clock;
      await setTag(metadata, repo, 'latest', digest(1));
      clock += 1000;
      await setTag(metadata, repo, 'latest', digest(1));
      const current = await metadata.tags.getTag(repo, 'latest');
      assert.equal(current?.manifestDigest, digest(1));
      assert.deepEqual(current?.lifetimeStart, new Date(t1), 'a re-set of the same digest is a no-op');
      assert.equal(current?.lifetimeEnd, null);
      assert.equal(current?.repositoryId, repo);

      const t2 = clock;
      await setTag(metadata, repo, 'latest', digest(2));
      assert.equal((await metadata.tags.getTag(repo, 'latest'))?.manifestDigest, digest(2));
      const history = await metadata.tags.tagHistory(repo, 'latest');
      assert.deepEqual(
        history.map((h) => [h.manifestDigest, h.lifetimeStart.getTime(), h.lifetimeEnd?.getTime() ?? null]),
        [[digest(2), t2, null], [digest(1), t1, t2]],
      );
    });

    it('deletes (ends the lifetime) and can set the tag again', async () => {
      const repo = (await metadata.repositories.ensureRepository('t/delete')).id;
      await setTag(metadata, repo, 'v1', digest(1));
      clock += 10;
      assert.equal(await metadata.tags.deleteTag(repo, 'v1'), true);
      assert.equal(await metadata.tags.deleteTag(repo, 'v1'), false);
      assert.equal(await metadata.tags.deleteTag(repo, 'never'), false);
      assert.equal(await metadata.tags.getTag(repo, 'v1'), undefined);
      assert.deepEqual(await metadata.tags.listTags(repo, { limit: 10 }), []);
      clock += 10;
      await setTag(metadata, repo, 'v1', digest(1));
      const history = await metadata.tags.tagHistory(repo, 'v1');
      assert.equal(history.length, 2);
      assert.equal(history[0]?.lifetimeEnd, null);
      assert.deepEqual(history[1]?.lifetimeEnd, new Date(clock - 10));
    });

    it('lists current tags in byte order with pagination, case-sensitively', async () => {
      const repo = (await metadata.repositories.ensureRepository('t/list')).id;
      const names = ['v2', 'Latest', 'latest', 'v10', 'v1', '_x', 'a.b', 'a-b'];
      for (const name of names) await setTag(metadata, repo, name, digest(5));
      await setTag(metadata, repo, 'gone', digest(5));
      await metadata.tags.deleteTag(repo, 'gone');
      const expected = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      assert.deepEqual(await metadata.tags.listTags(repo, { limit: 100 }), expected);
      assert.deepEqual(await metadata.tags.listTags(repo, { limit: 3 }), expected.slice(0, 3));
      assert.deepEqual(await metadata.tags.listTags(repo, { limit: 3, last: expected[2]! }), expected.slice(3, 6));
      assert.deepEqual(await metadata.tags.listTags(repo, { limit: 3, last: expected[7]! }), []);
      assert.equal((await metadata.tags.getTag(repo, 'Latest'))?.name, 'Latest');
    });

    it('gives the whole history of a repository, newest first, and keeps repositories apart', async () => {
      const repo = (await metadata.repositories.ensureRepository('t/history')).id;
      const other = (await metadata.repositories.ensureRepository('t/history-other')).id;
      await setTag(metadata, other, 'a', digest(9));
      for (const [name, n] of [['a', 1], ['b', 2], ['a', 3]] as const) {
        clock += 100;
        await setTag(metadata, repo, name, digest(n));
      }
      const history = await metadata.tags.tagHistory(repo);
      assert.deepEqual(history.map((h) => [h.name, h.manifestDigest]), [['a', digest(3)], ['b', digest(2)], ['a', digest(1)]]);
      assert.ok(history.every((h) => h.repositoryId === repo));
      assert.deepEqual((await metadata.tags.tagHistory(repo, 'b')).map((h) => h.manifestDigest), [digest(2)]);
      assert.deepEqual(await metadata.tags.tagHistory(repo, 'none'), []);
    });

    it('leaves exactly one current row after 20 concurrent moves of one tag', async () => {
      const repo = (await metadata.repositories.ensureRepository('t/race')).id;
      await Promise.all(Array.from({ length: 20 }, (_, i) => setTag(metadata, repo, 'hot', digest(100 + i))));
      const history = await metadata.tags.tagHistory(repo, 'hot');
      const current = history.filter((h) => h.lifetimeEnd === null);
      assert.equal(current.length, 1);
      assert.equal(history.length, 20);
      assert.equal((await metadata.tags.getTag(repo, 'hot'))?.manifestDigest, current[0]?.manifestDigest);
    });

    it('leaves one row after 20 concurrent sets of the same digest', async () => {
      const repo = (await metadata.repositories.ensureRepository('t/race-same')).id;
      await Promise.all(Array.from({ length: 20 }, () => setTag(metadata, repo, 'same', digest(7))));
      assert.equal((await metadata.tags.tagHistory(repo, 'same')).length, 1);
    });

    it('leaves one current row when moves and deletes race on two pools', async () => {
      const repo = (await metadata.repositories.ensureRepository('t/race-pools')).id;
      const { openDatabase } = await import('../../src/db/database.js');
      // SQLite: better-sqlite3 blocks the event loop while waiting for a lock, so two pools in one process
      // would wait on each other; the single-connection case above is the SQLite deployment.
      const second = dialect === 'sqlite' ? fresh.database : await openDatabase({ uri: fresh.uri });
      try {
        const other = createMetadata(second, { now: () => clock });
        await Promise.all(Array.from({ length: 20 }, (_, i) => {
          const m = i % 2 === 0 ? metadata : other;
          return i % 5 === 4 ? m.tags.deleteTag(repo, 'x') : setTag(m, repo, 'x', digest(200 + i));
        }));
        await setTag(metadata, repo, 'x', digest(300));
        const current = (await metadata.tags.tagHistory(repo, 'x')).filter((h) => h.lifetimeEnd === null);
        assert.deepEqual(current.map((h) => h.manifestDigest), [digest(300)]);
      } finally {
        if (second !== fresh.database) await second.close();
      }
    });
  });
}
