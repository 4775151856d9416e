import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { KyselyBlobIndex } from '../../src/db/blobs.js';
import { KyselyPlacementIndex } from '../../src/db/placements.js';
import { KyselyReplicationQueue, type ClaimedJob } from '../../src/db/replication-jobs.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import type { StorageLocation } from '../../src/storage/distributed.js';
import { blobRelativePath, LocalBlobStore } from '../../src/storage/local.js';
import { nextAttemptAt, queueMissingCopies, runJob, startReplicationWorker, type JobOutcome } from '../../src/workers/replication.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { waitUntil } from '../helpers/wait.js';
import { collect, pattern, sha256 } from '../storage/conformance.js';

/** A LocalStorage location that copies from another local location by itself (as an object store copies server-side). */
class SelfCopyingLocal extends LocalBlobStore {
  copies = 0;
  constructor(root: string, private readonly willCopy: boolean) {
    super(root);
  }
  async copyBlobFrom(source: BlobStore, digest: string): Promise<boolean> {
    if (!this.willCopy) return false;
    this.copies += 1;
    const id = randomUUID();
    await this.startUpload(id);
    await this.appendUpload(id, 0, await source.read(digest));
    await this.commitUpload(id, digest);
    return true;
  }
}

describe('replication worker', () => {
  let dir: string;
  let fresh: FreshDatabase;
  let clock = 1_700_000_000_000;
  let us: StorageLocation;
  let eu: StorageLocation;
  let placements: KyselyPlacementIndex;
  let queue: KyselyReplicationQueue;
  let blobs: KyselyBlobIndex;
  const logged: { message: string; details: Record<string, unknown> }[] = [];
  const observed: { outcome: JobOutcome; target: string }[] = [];
  const bytes: { count: number; mode: string }[] = [];
  const log = {
    info: (details: object, message: string) => logged.push({ message, details: details as Record<string, unknown> }),
    warn: (details: object, message: string) => logged.push({ message, details: details as Record<string, unknown> }),
  };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'quayside-replication-'));
    fresh = await freshDatabase('sqlite');
    us = { name: 'us', store: new LocalBlobStore(path.join(dir, 'us')) };
    eu = { name: 'eu', store: new LocalBlobStore(path.join(dir, 'eu')) };
    placements = new KyselyPlacementIndex(fresh.database, () => clock);
    queue = new KyselyReplicationQueue(fresh.database, () => clock);
    blobs = new KyselyBlobIndex(fresh.database, () => clock);
  });
  after(async () => {
    await fresh.drop();
    await rm(dir, { recursive: true, force: true });
  });

  /** A blob pushed to `location` (object, blob row, placement) and queued for every other location. */
  async function pushed(location: StorageLocation, data: Buffer, to: string[] = ['eu']): Promise<string> {
    const digest = sha256(data);
    const id = randomUUID();
    await location.store.startUpload(id);
    await location.store.appendUpload(id, 0, Readable.from([data]));
    await location.store.commitUpload(id, digest);
    await blobs.recordBlob(digest, data.length);
    await placements.recordPlacement(digest, location.name);
    await queueMissingCopies(placements, queue, [digest], [location.name, ...to]);
    return digest;
  }

  function context(locations: StorageLocation[] = [us, eu]) {
    return {
      locations,
      queue,
      placements,
      blobs,
      owner: 'test',
      log,
      now: () => clock,
      leaseMs: 60_000,
      backoff: { baseMs: 1000, maxMs: 8000, maxAttempts: 3 },
      observer: {
        jobFinished: (outcome: JobOutcome, target: string) => observed.push({ outcome, target }),
        bytesCopied: (count: number, _target: string, mode: string) => bytes.push({ count, mode }),
      },
    };
  }

  async function claim(): Promise<ClaimedJob> {
    const job = await queue.claimNext('test', 60_000);
    assert.ok(job, 'no job due');
    return job;
  }

  it('queues only the copies missing from the required locations', async () => {
    const data = pattern(10, 1);
    const digest = await pushed(us, data, []);
    assert.equal(await queueMissingCopies(placements, queue, [digest], ['us', 'eu']), 1);
    assert.equal(await queueMissingCopies(placements, queue, [digest], ['us', 'eu']), 1, 'the missing pair is reported again');
    assert.deepEqual(await queue.stats(), { queued: 1, leased: 0, failed: 0, oldestQueuedAt: clock });
    await queue.complete(await claim());
  });

  it('streams a blob into the target, verifies it, records the placement and removes the job', async () => {
    const data = pattern(3 * 1024 * 1024, 2);
    const digest = await pushed(us, data);
    assert.equal(await runJob(await claim(), context()), 'copied');
    assert.ok((await collect(await eu.store.read(digest))).equals(data));
    assert.deepEqual(await placements.locationsOf(digest), ['eu', 'us']);
    assert.equal((await queue.stats()).queued, 0);
    assert.deepEqual(bytes.at(-1), { count: data.length, mode: 'streamed' });
    const copied = logged.find((entry) => entry.message === 'replication: blob copied');
    assert.deepEqual({ ...copied?.details, ms: 0 }, { digest, from: 'us', to: 'eu', bytes: data.length, mode: 'streamed', ms: 0 });
  });

  it('copies server-side when the target can, and streams when it says it cannot', async () => {
    const serverSide = new SelfCopyingLocal(path.join(dir, 'ap'), true);
    const refusing = new SelfCopyingLocal(path.join(dir, 'sa'), false);
    const ap = { name: 'ap', store: serverSide };
    const sa = { name: 'sa', store: refusing };
    const data = pattern(200_000, 3);
    const digest = await pushed(us, data, ['ap', 'sa']);
    assert.equal(await runJob(await claim(), context([us, ap, sa])), 'copied');
    assert.equal(await runJob(await claim(), context([us, ap, sa])), 'copied');
    assert.equal(serverSide.copies, 1);
    assert.deepEqual(bytes.slice(-2).map((b) => b.mode).sort(), ['server-side', 'streamed']);
    assert.deepEqual(await placements.locationsOf(digest), ['ap', 'sa', 'us']);
  });

  it('records a blob the target already holds without copying it, and drops the job of a collected blob', async () => {
    const data = pattern(5000, 4);
    const digest = await pushed(us, data);
    const id = randomUUID();
    await eu.store.startUpload(id);
    await eu.store.appendUpload(id, 0, Readable.from([data]));
    await eu.store.commitUpload(id, digest);
    assert.equal(await runJob(await claim(), context()), 'already-present');
    assert.deepEqual(await placements.locationsOf(digest), ['eu', 'us']);

    const gone = await pushed(us, pattern(10, 5));
    await fresh.database.db.deleteFrom('blob').where('digest', '=', gone).execute();
    assert.equal(await runJob(await claim(), context()), 'dropped');
    assert.equal(await eu.store.stat(gone), undefined);
  });

  it('refuses a source whose bytes do not match the digest, retries with backoff, then gives up', async () => {
    const data = pattern(100_000, 6);
    const digest = await pushed(us, data);
    // A corrupted copy of the same size in the only holder.
    await writeFile(path.join(dir, 'us', blobRelativePath(digest)), pattern(100_000, 7));
    assert.equal(await runJob(await claim(), context()), 'retried');
    assert.equal(await eu.store.stat(digest), undefined, 'a corrupted copy was committed');
    assert.match(String(logged.at(-1)?.details.err), /digest sha256:[0-9a-f]{64}, not 100000 bytes with/);
    assert.equal(await queue.claimNext('test', 60_000), undefined, 'retried before its backoff');
    clock += 1000;
    await truncate(path.join(dir, 'us', blobRelativePath(digest)), 10);
    assert.equal(await runJob(await claim(), context()), 'retried');
    clock += 2000;
    assert.equal(await runJob(await claim(), context()), 'failed');
    assert.equal(logged.at(-1)?.message, 'replication: copy failed; giving up');
    assert.deepEqual(await queue.stats(), { queued: 0, leased: 0, failed: 1 });
    assert.deepEqual(observed.slice(-3).map((o) => o.outcome), ['retried', 'retried', 'failed']);
  });

  it('computes exponential backoff up to its cap and gives up after the last attempt', () => {
    const policy = { baseMs: 1000, maxMs: 5000, maxAttempts: 5 };
    assert.deepEqual([1, 2, 3, 4].map((attempt) => nextAttemptAt(0, attempt, policy)), [1000, 2000, 4000, 5000]);
    assert.equal(nextAttemptAt(0, 5, policy), undefined);
  });

  it('runs queued jobs in the background until stopped, woken by a push', async () => {
    const worker = startReplicationWorker({ ...context(), now: Date.now, idleMs: 60_000 });
    clock = Date.now();
    try {
      const data = pattern(1000, 8);
      const digest = await pushed(us, data);
      worker.wake();
      await waitUntil('copied to eu', async () => (await placements.locationsOf(digest)).includes('eu'));
      assert.ok((await collect(await eu.store.read(digest))).equals(data));
    } finally {
      await worker.stop();
    }
  });
});
