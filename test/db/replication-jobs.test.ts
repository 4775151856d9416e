import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openDatabase, type Database } from '../../src/db/database.js';
import { KyselyReplicationQueue, type ClaimedJob } from '../../src/db/replication-jobs.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const LEASE_MS = 30_000;

for (const dialect of ALL_DIALECTS) {
  describe(`replication jobs on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let queue: KyselyReplicationQueue;
    let clock = 1_700_000_000_000;
    /** Other instances: their own connections (pools) to the same database. */
    const others: Database[] = [];
    before(async () => {
      fresh = await freshDatabase(dialect);
      queue = new KyselyReplicationQueue(fresh.database, () => clock);
      for (let i = 0; i < 3; i++) others.push(await openDatabase({ uri: fresh.uri }));
    });
    after(async () => {
      for (const other of others) await other.close();
      await fresh.drop();
    });

    /** Claims until nothing is due, completing each job. */
    async function drain(owner: string): Promise<ClaimedJob[]> {
      const done: ClaimedJob[] = [];
      for (let job = await queue.claimNext(owner, LEASE_MS); job; job = await queue.claimNext(owner, LEASE_MS)) {
        assert.equal(await queue.complete(job), true);
        done.push(job);
      }
      return done;
    }

    it('queues a (blob, location) once however often it is enqueued', async () => {
      await Promise.all(Array.from({ length: 10 }, () => queue.enqueue([{ digest: digest(1), location: 'eu' }])));
      await queue.enqueue([
        { digest: digest(1), location: 'eu' },
        { digest: digest(1), location: 'ap' },
      ]);
      assert.equal((await queue.stats()).queued, 2);
      const done = await drain('a');
      assert.deepEqual(done.map((job) => job.location).sort(), ['ap', 'eu']);
      assert.equal(await queue.claimNext('a', LEASE_MS), undefined);
      assert.equal((await queue.stats()).queued, 0);
    });

    it('leases a job to one claimer; it is claimable again when the lease expires, not before', async () => {
      await queue.enqueue([{ digest: digest(2), location: 'eu' }]);
      const first = await queue.claimNext('a', LEASE_MS);
      assert.equal(first?.digest, digest(2));
      assert.equal(first?.attempts, 1);
      assert.equal(await queue.claimNext('b', LEASE_MS), undefined);
      assert.deepEqual(await queue.stats(), { queued: 1, leased: 1, failed: 0, oldestQueuedAt: clock });
      clock += LEASE_MS - 1;
      assert.equal(await queue.claimNext('b', LEASE_MS), undefined);
      assert.equal(await queue.renewLease(first!, LEASE_MS), true);
      clock += LEASE_MS + 1;
      const second = await queue.claimNext('b', LEASE_MS);
      assert.equal(second?.id, first!.id);
      assert.equal(second?.attempts, 2);
      // The first holder lost its lease: it can neither renew, fail nor complete the job any more.
      assert.equal(await queue.renewLease(first!, LEASE_MS), false);
      assert.equal(await queue.complete(first!), false);
      await queue.fail(first!, 'late', clock);
      assert.equal(await queue.complete(second!), true);
      assert.equal((await queue.stats()).queued, 0);
    });

    it('retries a failed attempt at the time given, and gives up when told to; enqueue revives a given-up job', async () => {
      await queue.enqueue([{ digest: digest(3), location: 'eu' }]);
      const job = await queue.claimNext('a', LEASE_MS);
      await queue.fail(job!, 'connection refused', clock + 5000);
      assert.equal(await queue.claimNext('a', LEASE_MS), undefined, 'claimed before its retry time');
      clock += 5000;
      const retry = await queue.claimNext('a', LEASE_MS);
      assert.equal(retry?.attempts, 2);
      await queue.fail(retry!, 'still refused', undefined);
      clock += 3_600_000;
      assert.equal(await queue.claimNext('a', LEASE_MS), undefined, 'a given-up job was claimed');
      assert.deepEqual(await queue.stats(), { queued: 0, leased: 0, failed: 1 });
      const row = await fresh.database.db.selectFrom('replication_job').select(['last_error', 'state']).where('digest', '=', digest(3)).executeTakeFirst();
      assert.deepEqual(row, { last_error: 'still refused', state: 'failed' });
      await queue.enqueue([{ digest: digest(3), location: 'eu' }]);
      const revived = await queue.claimNext('a', LEASE_MS);
      assert.equal(revived?.attempts, 1);
      assert.equal(await queue.complete(revived!), true);
    });

    it('hands each job to exactly one of several instances claiming at once', async () => {
      const jobs = Array.from({ length: 40 }, (_, n) => ({ digest: digest(100 + n), location: n % 2 === 0 ? 'eu' : 'us' }));
      await queue.enqueue(jobs);
      const instances = [queue, ...others.map((database) => new KyselyReplicationQueue(database, () => clock))];
      const claimed = await Promise.all(
        instances.map(async (instance, i) => {
          const mine: ClaimedJob[] = [];
          for (let job = await instance.claimNext(`i${i}`, LEASE_MS); job; job = await instance.claimNext(`i${i}`, LEASE_MS)) mine.push(job);
          return mine;
        }),
      );
      const all = claimed.flat();
      assert.equal(all.length, jobs.length, 'a job was claimed twice or lost');
      assert.equal(new Set(all.map((job) => job.id)).size, jobs.length);
      for (const [i, mine] of claimed.entries()) {
        for (const job of mine) assert.equal(await instances[i]!.complete(job), true);
      }
      assert.equal((await queue.stats()).queued, 0);
    });
  });
}
