import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { KyselyPlacementIndex } from '../../src/db/placements.js';
import { KyselyReplicationQueue } from '../../src/db/replication-jobs.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

for (const dialect of ALL_DIALECTS) {
  describe(`blob placements on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let metadata: Metadata;
    let placements: KyselyPlacementIndex;
    let clock = 1_700_000_000_000;
    before(async () => {
      fresh = await freshDatabase(dialect);
      metadata = createMetadata(fresh.database, { now: () => clock });
      placements = new KyselyPlacementIndex(fresh.database, () => clock);
    });
    after(() => fresh.drop());

    it('records a placement once, however often and however concurrently it is recorded', async () => {
      assert.deepEqual(await placements.locationsOf(digest(1)), []);
      await Promise.all(Array.from({ length: 20 }, () => placements.recordPlacement(digest(1), 'us')));
      await placements.recordPlacement(digest(1), 'eu');
      assert.deepEqual(await placements.locationsOf(digest(1)), ['eu', 'us']);
      await placements.forgetPlacement(digest(1), 'us');
      await placements.forgetPlacement(digest(1), 'us');
      assert.deepEqual(await placements.locationsOf(digest(1)), ['eu']);
    });

    it('names the (blob, location) pairs that have no placement', async () => {
      await placements.recordPlacement(digest(2), 'us');
      await placements.recordPlacement(digest(3), 'us');
      await placements.recordPlacement(digest(3), 'eu');
      const missing = await placements.missingPlacements([digest(2), digest(3), digest(4), digest(2)], ['us', 'eu']);
      assert.deepEqual(missing, [
        { digest: digest(2), location: 'eu' },
        { digest: digest(4), location: 'us' },
        { digest: digest(4), location: 'eu' },
      ]);
      assert.deepEqual(await placements.missingPlacements([], ['us']), []);
      assert.deepEqual(await placements.missingPlacements([digest(2)], []), []);
    });

    it('pages through the recorded blobs a location does not hold, in digest order', async () => {
      for (const n of [10, 11, 12, 13, 14]) await metadata.blobs.recordBlob(digest(n), n);
      await placements.recordPlacement(digest(12), 'ap');
      const first = await placements.blobsMissingFrom('ap', { limit: 2 });
      assert.deepEqual(first, [
        { digest: digest(10), size: 10 },
        { digest: digest(11), size: 11 },
      ]);
      const second = await placements.blobsMissingFrom('ap', { after: first[1]!.digest, limit: 2 });
      assert.deepEqual(second.map((b) => b.digest), [digest(13), digest(14)]);
      assert.deepEqual(await placements.blobsMissingFrom('ap', { after: digest(14), limit: 2 }), []);
    });

    it('garbage collection forgets a blob with its placements and replication jobs', async () => {
      const queue = new KyselyReplicationQueue(fresh.database, () => clock);
      await metadata.blobs.recordBlob(digest(20), 20);
      await placements.recordPlacement(digest(20), 'us');
      await queue.enqueue([{ digest: digest(20), location: 'eu' }]);
      clock += 60_000;
      const deleted: string[] = [];
      const collected = await metadata.garbage.collectBlob(digest(20), { now: clock, graceMs: 1000, timeMachineMs: 0 }, async () => {
        deleted.push(digest(20));
      });
      assert.equal(collected, true);
      assert.deepEqual(deleted, [digest(20)]);
      assert.deepEqual(await placements.locationsOf(digest(20)), []);
      assert.equal(await metadata.blobs.getBlob(digest(20)), undefined);
      const stats = await queue.stats();
      assert.equal(stats.queued, 0);
    });
  });
}
