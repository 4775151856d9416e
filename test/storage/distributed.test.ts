import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, open, rename, rm, symlink, truncate } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { after, before, beforeEach, describe, it } from 'node:test';
import { KyselyPlacementIndex } from '../../src/db/placements.js';
import { BlobNotFoundError } from '../../src/storage/blob-store.js';
import { DistributedBlobStore, type StorageLocation } from '../../src/storage/distributed.js';
import { blobRelativePath, LocalBlobStore } from '../../src/storage/local.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { collect, pattern, runBlobStoreConformance, sha256 } from './conformance.js';

const run = promisify(execFile);

/** Two LocalStorage locations and the placement table of a fresh SQLite database. */
async function twoLocations(): Promise<{ dir: string; us: StorageLocation; eu: StorageLocation; fresh: FreshDatabase; placements: KyselyPlacementIndex }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'quayside-geo-'));
  const fresh = await freshDatabase('sqlite');
  return {
    dir,
    us: { name: 'us', store: new LocalBlobStore(path.join(dir, 'us')) },
    eu: { name: 'eu', store: new LocalBlobStore(path.join(dir, 'eu')) },
    fresh,
    placements: new KyselyPlacementIndex(fresh.database, Date.now),
  };
}

runBlobStoreConformance('distributed over two local locations', async () => {
  const setup = await twoLocations();
  const store = new DistributedBlobStore({ locations: [setup.us, setup.eu], placements: setup.placements, log: silentLog() });
  return {
    store,
    cleanup: async () => {
      await setup.fresh.drop();
      await rm(setup.dir, { recursive: true, force: true });
    },
  };
});

function silentLog() {
  return { info: () => undefined, warn: () => undefined };
}

/** Pushes `data` through a plain store (as the replication worker or another instance would have). */
async function putBlob(store: LocalBlobStore | DistributedBlobStore, data: Buffer): Promise<string> {
  const id = randomUUID();
  const digest = sha256(data);
  await store.startUpload(id);
  await store.appendUpload(id, 0, Readable.from([data]));
  await store.commitUpload(id, digest);
  return digest;
}

describe('distributed store', () => {
  let setup: Awaited<ReturnType<typeof twoLocations>>;
  let clock = 1_000_000;
  let warnings: { details: Record<string, unknown>; message: string }[];
  let served: string[];
  let fallbacks: string[];
  before(async () => {
    setup = await twoLocations();
  });
  after(async () => {
    await setup.fresh.drop();
    await rm(setup.dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    warnings = [];
    served = [];
    fallbacks = [];
  });

  function storePreferring(...order: StorageLocation[]): DistributedBlobStore {
    return new DistributedBlobStore({
      locations: order,
      placements: setup.placements,
      log: { info: () => undefined, warn: (details, message) => warnings.push({ details: details as Record<string, unknown>, message }) },
      observer: { served: (l) => served.push(l), fallback: (l) => fallbacks.push(l) },
      now: () => clock,
      answerTimeoutMs: 500,
      breaker: { failureThreshold: 2, openMs: 30_000 },
    });
  }

  /** A blob held by both locations, with both placements recorded. */
  async function replicated(data: Buffer): Promise<string> {
    const digest = await putBlob(setup.us.store as LocalBlobStore, data);
    await putBlob(setup.eu.store as LocalBlobStore, data);
    await setup.placements.recordPlacement(digest, 'us');
    await setup.placements.recordPlacement(digest, 'eu');
    return digest;
  }

  const whole = (data: Buffer) => ({ start: 0, end: data.length - 1 });

  it('pushes to the first preferred location and records the placement there', async () => {
    const store = storePreferring(setup.eu, setup.us);
    const data = pattern(100_000, 3);
    const digest = await putBlob(store, data);
    assert.deepEqual(await setup.placements.locationsOf(digest), ['eu']);
    assert.deepEqual(await setup.eu.store.stat(digest), { size: data.length });
    assert.equal(await setup.us.store.stat(digest), undefined);
    // The other instance, preferring us, reads it from eu where it is.
    const other = storePreferring(setup.us, setup.eu);
    assert.deepEqual(await other.stat(digest), { size: data.length });
    assert.ok((await collect(await other.read(digest, whole(data)))).equals(data));
    assert.deepEqual(served, ['eu']);
  });

  it('reads from its own location when both hold the blob', async () => {
    const data = pattern(50_000, 4);
    const digest = await replicated(data);
    const inEu = storePreferring(setup.eu, setup.us);
    const inUs = storePreferring(setup.us, setup.eu);
    assert.ok((await collect(await inEu.read(digest, whole(data)))).equals(data));
    assert.ok((await collect(await inUs.read(digest, whole(data)))).equals(data));
    assert.deepEqual(served, ['eu', 'us']);
    assert.deepEqual(fallbacks, []);
  });

  it('falls back to the next holder when its location fails, then avoids it until the breaker lets a trial through', async () => {
    const data = pattern(70_000, 5);
    const digest = await replicated(data);
    const store = storePreferring(setup.us, setup.eu);
    // A real filesystem failure, even for root: the location's blob tree is a symlink loop (ELOOP).
    const tree = path.join(setup.dir, 'us', 'sha256');
    await rename(tree, `${tree}.away`);
    await symlink(tree, tree);
    try {
      assert.deepEqual(await store.stat(digest), { size: data.length });
      assert.ok((await collect(await store.read(digest, whole(data)))).equals(data));
      assert.deepEqual(fallbacks, ['us', 'us']);
      assert.equal(store.breakerState('us'), 'open');
      assert.match(warnings[0]!.message, /location us failed; trying the next location/);
      assert.equal(warnings[0]!.details.digest, digest);
      // Open: us is not even tried.
      assert.ok((await collect(await store.read(digest, whole(data)))).equals(data));
      assert.deepEqual(fallbacks, ['us', 'us']);
      assert.deepEqual(served, ['eu', 'eu']);
      clock += 30_000;
      // Half-open: one trial, which fails again: open for another 30 s.
      assert.deepEqual(await store.stat(digest), { size: data.length });
      assert.deepEqual(fallbacks, ['us', 'us', 'us']);
      assert.equal(store.breakerState('us'), 'open');
    } finally {
      await rm(tree);
      await rename(`${tree}.away`, tree);
    }
    clock += 30_000;
    assert.ok((await collect(await store.read(digest, whole(data)))).equals(data));
    assert.equal(store.breakerState('us'), 'closed');
    assert.equal(served.at(-1), 'us', 'the location is used again once it works');
  });

  it('redirects a client only to a holder that answers for the blob, never to a failing location', async () => {
    const data = pattern(20_000, 15);
    const digest = await replicated(data);
    // LocalStorage signs no URLs; each location here signs one naming itself, so the choice can be seen.
    const signing = (location: StorageLocation): StorageLocation => ({
      name: location.name,
      store: Object.assign(Object.create(location.store) as LocalBlobStore, { redirectUrl: async (d: string) => `https://${location.name}.example/${d}` }),
    });
    const store = storePreferring(signing(setup.us), signing(setup.eu));
    assert.equal(await store.redirectUrl(digest), `https://us.example/${digest}`);
    const tree = path.join(setup.dir, 'us', 'sha256');
    await rename(tree, `${tree}.away`);
    await symlink(tree, tree);
    try {
      assert.equal(await store.redirectUrl(digest), `https://eu.example/${digest}`, 'us fails: the client goes to eu');
      assert.deepEqual(fallbacks, ['us']);
    } finally {
      await rm(tree);
      await rename(`${tree}.away`, tree);
    }
    // A placement whose object is gone (a lost copy) sends no client there either.
    const lost = pattern(10_000, 16);
    const lostDigest = await replicated(lost);
    await rm(path.join(setup.dir, 'eu', blobRelativePath(lostDigest)));
    const fromEu = storePreferring(signing(setup.eu), signing(setup.us));
    assert.equal(await fromEu.redirectUrl(lostDigest), `https://us.example/${lostDigest}`);
  });

  it('continues a read broken off mid-stream from the next holder, at the exact byte', async () => {
    const data = pattern(3 * 1024 * 1024, 6);
    const digest = await replicated(data);
    // us holds a truncated copy: its stream ends early, and the rest must come from eu.
    await truncate(path.join(setup.dir, 'us', blobRelativePath(digest)), 1024 * 1024 + 17);
    const store = storePreferring(setup.us, setup.eu);
    assert.ok((await collect(await store.read(digest, whole(data)))).equals(data));
    const range = { start: 100, end: 2 * 1024 * 1024 };
    assert.ok((await collect(await store.read(digest, range))).equals(data.subarray(range.start, range.end + 1)));
    assert.ok(warnings.some((w) => w.message === 'storage: read continues from another location' && w.details.to === 'eu'));
  });

  it('gives up on a location that does not answer in time and reads the next holder', async () => {
    const data = pattern(10_000, 7);
    const digest = await replicated(data);
    // A named pipe where us keeps the blob: opening it waits for a writer that never comes.
    const file = path.join(setup.dir, 'us', blobRelativePath(digest));
    await rm(file);
    await run('mkfifo', [file]);
    const store = storePreferring(setup.us, setup.eu);
    try {
      assert.ok((await collect(await store.read(digest, whole(data)))).equals(data));
      assert.deepEqual(fallbacks, ['us']);
      assert.match(String(warnings[0]?.details.err), /did not answer within 500 ms/);
    } finally {
      // Release the thread still waiting in open(): a writer that closes at once.
      await (await open(file, 'w')).close();
      await rm(file);
    }
  });

  it('finds a blob with no placement (pushed before geo-replication) in any location, and records where', async () => {
    const data = pattern(1000, 8);
    const digest = await putBlob(setup.eu.store as LocalBlobStore, data);
    const store = storePreferring(setup.us, setup.eu);
    assert.deepEqual(await store.stat(digest), { size: data.length });
    await waitFor(async () => (await setup.placements.locationsOf(digest)).includes('eu'));
    assert.deepEqual(await setup.placements.locationsOf(digest), ['eu']);
  });

  it('is not found only when no location has it, and fails when a location that may have it failed', async () => {
    const store = storePreferring(setup.us, setup.eu);
    const missing = sha256(Buffer.from('nowhere'));
    assert.equal(await store.stat(missing), undefined);
    await assert.rejects(store.read(missing, { start: 0, end: 1 }), BlobNotFoundError);
    await setup.placements.recordPlacement(missing, 'us');
    const tree = path.join(setup.dir, 'us', 'sha256');
    await rename(tree, `${tree}.away`);
    await symlink(tree, tree);
    try {
      await assert.rejects(store.stat(missing), /ELOOP|symbolic links/);
    } finally {
      await rm(tree);
      await rename(`${tree}.away`, tree);
    }
  });

  it('deletes a blob from every location', async () => {
    const data = pattern(2000, 9);
    const digest = await replicated(data);
    await storePreferring(setup.us, setup.eu).delete(digest);
    assert.equal(await setup.us.store.stat(digest), undefined);
    assert.equal(await setup.eu.store.stat(digest), undefined);
  });

  it('continues an upload that an instance preferring another location started', async () => {
    const inUs = storePreferring(setup.us, setup.eu);
    const inEu = storePreferring(setup.eu, setup.us);
    const data = pattern(4000, 10);
    const id = randomUUID();
    await inUs.startUpload(id);
    await inUs.appendUpload(id, 0, Readable.from([data.subarray(0, 1000)]));
    assert.equal(await inEu.appendUpload(id, 1000, Readable.from([data.subarray(1000)])), data.length);
    await inEu.commitUpload(id, sha256(data));
    assert.deepEqual(await setup.placements.locationsOf(sha256(data)), ['us']);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
