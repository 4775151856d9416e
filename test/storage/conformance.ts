import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import {
  BlobNotFoundError,
  UploadNotFoundError,
  UploadOffsetError,
  type BlobStore,
  type ByteRange,
} from '../../src/storage/blob-store.js';

/**
 * The one test suite every BlobStore driver passes (local now, S3 and Swift later), as CNCF distribution's
 * driver/testsuites. Each test gets a fresh store from `makeStore` and cleans it up afterwards.
 */

export interface StoreUnderTest {
  store: BlobStore;
  cleanup(): Promise<void>;
}

const MiB = 1024 * 1024;

/** The digest a caller would compute; drivers never check it, but realistic keys catch layout bugs. */
export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Deterministic, non-repeating bytes, so that ranges and offsets are checked for real. */
export function pattern(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Collects a stream; only for the small blobs of these tests. */
export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * Asserts what an upload holds, seen the only way a caller can (uploads are write-only): commits it under the
 * digest of `expected` and reads the blob back. Ends the upload.
 */
async function assertUploadHolds(store: BlobStore, id: string, expected: Buffer): Promise<void> {
  const digest = sha256(expected);
  await store.commitUpload(id, digest);
  assert.deepEqual(await collect(await store.read(digest)), expected);
}

/** A body that yields `data` in pieces of `piece` bytes, then optionally fails. */
function bodyOf(data: Buffer, piece = 7001, failAfter?: Error): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0; i < data.length; i += piece) yield data.subarray(i, i + piece);
      if (failAfter) throw failAfter;
    })(),
    { objectMode: false },
  );
}

async function upload(store: BlobStore, data: Buffer, pieces = 3): Promise<string> {
  const id = randomUUID();
  await store.startUpload(id);
  const step = Math.ceil(data.length / pieces) || 1;
  let offset = 0;
  for (let i = 0; i < data.length; i += step) {
    offset = await store.appendUpload(id, offset, bodyOf(data.subarray(i, i + step)));
  }
  return id;
}

async function readAll(store: BlobStore, digest: string, range?: ByteRange): Promise<Buffer> {
  return collect(await store.read(digest, range));
}

/** A garbage collector callable from a test without starting node with --expose-gc. */
function exposeGc(): () => void {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as () => void;
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  assert.equal(typeof gc, 'function', 'could not expose the garbage collector for the memory test');
  return gc as () => void;
}

function liveBytes(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

const BAD_DIGESTS = [
  '../x',
  'sha256:../../etc',
  '/etc/passwd',
  `sha256:${'a'.repeat(63)}`,
  `sha256:${'A'.repeat(64)}`,
  `sha256:${'a'.repeat(64)}/../../x`,
  `sha256:${'a'.repeat(62)}/.`,
  `sha512:${'a'.repeat(128)}`,
  '',
  `sha256:${'a'.repeat(64)}\0`,
];

const BAD_UPLOAD_IDS = ['../x', '..', '.', '/etc/passwd', 'a/b', 'a\\b', '', 'x'.repeat(65), 'a\0b', '.hidden', 'uploads/../../x'];

/** Registers the conformance tests for one driver. */
export function runBlobStoreConformance(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  /** Runs `body` with a fresh store and always cleans up. */
  async function withStore(body: (store: BlobStore) => Promise<void>): Promise<void> {
    const { store, cleanup } = await makeStore();
    try {
      await body(store);
    } finally {
      await store.close?.();
      await cleanup();
    }
  }

  describe(`BlobStore conformance: ${name}`, { timeout: 600_000 }, () => {
    test('stat of an absent blob is undefined', () =>
      withStore(async (store) => {
        assert.equal(await store.stat(sha256(Buffer.from('absent'))), undefined);
      }));

    test('upload lifecycle: appends, size, commit, stat, whole and ranged reads', () =>
      withStore(async (store) => {
        const data = pattern(100_003);
        const digest = sha256(data);
        const id = randomUUID();
        await store.startUpload(id);
        assert.equal(await store.uploadSize(id), 0);
        let offset = 0;
        for (const [start, end] of [[0, 1], [1, 40_000], [40_000, 40_000], [40_000, 100_003]] as const) {
          offset = await store.appendUpload(id, offset, bodyOf(data.subarray(start, end)));
          assert.equal(offset, end);
          assert.equal(await store.uploadSize(id), end);
        }
        assert.equal(await store.stat(digest), undefined, 'not visible before commit');
        await store.commitUpload(id, digest);
        assert.deepEqual(await store.stat(digest), { size: data.length });
        await assert.rejects(store.uploadSize(id), UploadNotFoundError);
        assert.deepEqual(await readAll(store, digest), data);
        const ranges: ByteRange[] = [
          { start: 0, end: 0 },
          { start: data.length - 1, end: data.length - 1 },
          { start: 5000, end: 5000 },
          { start: 0, end: data.length - 1 },
          { start: 12_345, end: 67_890 },
        ];
        for (const range of ranges) {
          assert.deepEqual(await readAll(store, digest, range), data.subarray(range.start, range.end + 1), `${range.start}-${range.end}`);
        }
        await assert.rejects(store.read(digest, { start: 10, end: 9 }), RangeError);
        await assert.rejects(store.read(digest, { start: -1, end: 9 }), RangeError);
      }));

    test('an empty blob can be committed and read', () =>
      withStore(async (store) => {
        const data = Buffer.alloc(0);
        const id = await upload(store, data);
        await store.commitUpload(id, sha256(data));
        assert.deepEqual(await store.stat(sha256(data)), { size: 0 });
        assert.equal((await readAll(store, sha256(data))).length, 0);
      }));

    test('append at a wrong offset fails with UploadOffsetError and changes nothing', () =>
      withStore(async (store) => {
        const data = pattern(1000, 7);
        const id = await upload(store, data, 1);
        for (const offset of [0, 999, 1001]) {
          const error = await store.appendUpload(id, offset, bodyOf(Buffer.from('zzz'))).then(
            () => assert.fail(`append at ${offset} succeeded`),
            (e: unknown) => e,
          );
          assert.ok(error instanceof UploadOffsetError, `offset ${offset}: ${String(error)}`);
          assert.equal(error.expected, offset);
          assert.equal(error.actual, 1000);
        }
        assert.equal(await store.uploadSize(id), 1000);
        await assertUploadHolds(store, id, data);
      }));

    test('truncateUpload cuts an upload back to a recorded size, never grows it', () =>
      withStore(async (store) => {
        const data = pattern(5000, 4);
        const id = await upload(store, data);
        await store.truncateUpload(id, 5000);
        assert.equal(await store.uploadSize(id), 5000, 'the same size is a no-op');
        await store.truncateUpload(id, 3000);
        assert.equal(await store.uploadSize(id), 3000);
        const grow = await store.truncateUpload(id, 4000).then(() => undefined, (e: unknown) => e);
        assert.ok(grow instanceof UploadOffsetError, `growing: ${String(grow)}`);
        // Appending the cut bytes again gives the original only if the cut kept exactly the first 3000.
        assert.equal(await store.appendUpload(id, 3000, bodyOf(data.subarray(3000))), 5000, 'appends go on from the cut');
        await assertUploadHolds(store, id, data);
        await assert.rejects(store.truncateUpload(randomUUID(), 0), UploadNotFoundError);
      }));

    test('operations on an absent upload fail with UploadNotFoundError', () =>
      withStore(async (store) => {
        const id = randomUUID();
        await assert.rejects(store.uploadSize(id), UploadNotFoundError);
        await assert.rejects(store.appendUpload(id, 0, bodyOf(Buffer.from('x'))), UploadNotFoundError);
        await assert.rejects(store.commitUpload(id, sha256(Buffer.from('x'))), UploadNotFoundError);
      }));

    test('abort removes the upload and is idempotent', () =>
      withStore(async (store) => {
        const id = await upload(store, pattern(5000, 3));
        await store.abortUpload(id);
        await assert.rejects(store.uploadSize(id), UploadNotFoundError);
        await store.abortUpload(id);
        await store.abortUpload(randomUUID());
      }));

    test('commit when the blob already exists succeeds and drops the upload', () =>
      withStore(async (store) => {
        const data = pattern(20_000, 11);
        const digest = sha256(data);
        await store.commitUpload(await upload(store, data), digest);
        const second = await upload(store, data);
        await store.commitUpload(second, digest);
        await assert.rejects(store.uploadSize(second), UploadNotFoundError);
        assert.deepEqual(await store.stat(digest), { size: data.length });
        assert.deepEqual(await readAll(store, digest), data);
      }));

    test('concurrent commits of the same digest from two uploads both succeed', () =>
      withStore(async (store) => {
        const data = pattern(300_000, 5);
        const digest = sha256(data);
        const [a, b] = await Promise.all([upload(store, data, 4), upload(store, data, 5)]);
        await Promise.all([store.commitUpload(a, digest), store.commitUpload(b, digest)]);
        assert.deepEqual(await store.stat(digest), { size: data.length });
        assert.deepEqual(await readAll(store, digest), data);
        await assert.rejects(store.uploadSize(a), UploadNotFoundError);
        await assert.rejects(store.uploadSize(b), UploadNotFoundError);
      }));

    test('read of an absent blob fails with BlobNotFoundError', () =>
      withStore(async (store) => {
        const digest = sha256(Buffer.from('nothing here'));
        const error = await store.read(digest).then(
          () => assert.fail('read of an absent blob succeeded'),
          (e: unknown) => e,
        );
        assert.ok(error instanceof BlobNotFoundError);
        assert.equal(error.digest, digest);
        await assert.rejects(store.read(digest, { start: 0, end: 0 }), BlobNotFoundError);
      }));

    test('delete removes a blob and is idempotent', () =>
      withStore(async (store) => {
        const data = pattern(4096, 9);
        const digest = sha256(data);
        const other = pattern(4096, 10);
        await store.commitUpload(await upload(store, data), digest);
        await store.commitUpload(await upload(store, other), sha256(other));
        await store.delete(digest);
        assert.equal(await store.stat(digest), undefined);
        await assert.rejects(store.read(digest), BlobNotFoundError);
        await store.delete(digest);
        await store.delete(sha256(Buffer.from('never stored')));
        assert.deepEqual(await readAll(store, sha256(other)), other, 'a neighbour is untouched');
      }));

    test('delete removes a blob committed from a single append (a plain object on Swift, not an SLO)', () =>
      withStore(async (store) => {
        const data = pattern(2048, 12);
        const digest = sha256(data);
        await store.commitUpload(await upload(store, data, 1), digest);
        await store.delete(digest);
        assert.equal(await store.stat(digest), undefined);
      }));

    test('a body that fails midway leaves the upload at its previous size', () =>
      withStore(async (store) => {
        const first = pattern(10_000, 21);
        const id = await upload(store, first, 1);
        const failure = new Error('client went away');
        await assert.rejects(store.appendUpload(id, 10_000, bodyOf(pattern(300_000, 22), 16_384, failure)), /client went away/);
        assert.equal(await store.uploadSize(id), 10_000);
        const rest = pattern(500, 23);
        assert.equal(await store.appendUpload(id, 10_000, bodyOf(rest)), 10_500, 'the upload goes on at the old offset');
        await assertUploadHolds(store, id, Buffer.concat([first, rest]));
      }));

    test('an aborted AbortSignal stops the append and leaves the previous size', () =>
      withStore(async (store) => {
        const id = await upload(store, pattern(1000, 31), 1);
        const controller = new AbortController();
        let sent = 0;
        // Sends a few chunks, aborts, then goes on for a while: only the signal can make this append fail.
        // The body still ends, so that a driver ignoring the signal fails the test instead of hanging it.
        const endless = new Readable({
          read() {
            sent += 1;
            if (sent === 4) controller.abort();
            setImmediate(() => this.push(sent > 200 ? null : pattern(8192, sent)));
          },
        });
        await assert.rejects(store.appendUpload(id, 1000, endless, controller.signal), { name: 'AbortError' });
        assert.equal(await store.uploadSize(id), 1000);
        await assert.rejects(
          store.appendUpload(id, 1000, bodyOf(Buffer.from('late')), AbortSignal.abort()),
          { name: 'AbortError' },
        );
        assert.equal(await store.uploadSize(id), 1000);
      }));

    test('a 64 MiB streamed append keeps memory far below the blob size', () =>
      withStore(async (store) => {
        const gc = exposeGc();
        const size = 64 * MiB;
        const chunk = 64 * 1024;
        const expected = createHash('sha256');
        const generated = Readable.from(
          (function* () {
            for (let i = 0; i < size / chunk; i += 1) {
              const bytes = Buffer.alloc(chunk, i % 251);
              bytes.writeUInt32BE(i, 0);
              expected.update(bytes);
              yield bytes;
            }
          })(),
          { objectMode: false },
        );
        const id = randomUUID();
        await store.startUpload(id);
        gc();
        const baseline = liveBytes();
        let peak = 0;
        const sampler = setInterval(() => {
          gc();
          peak = Math.max(peak, liveBytes() - baseline);
        }, 25);
        try {
          assert.equal(await store.appendUpload(id, 0, generated), size);
        } finally {
          clearInterval(sampler);
        }
        gc();
        peak = Math.max(peak, liveBytes() - baseline);
        assert.ok(peak < 32 * MiB, `live memory grew by ${(peak / MiB).toFixed(1)} MiB while streaming 64 MiB`);
        assert.equal(await store.uploadSize(id), size);
        const digest = `sha256:${expected.digest('hex')}`;
        await store.commitUpload(id, digest);
        const actual = createHash('sha256');
        for await (const piece of await store.read(digest)) actual.update(piece as Buffer);
        assert.equal(`sha256:${actual.digest('hex')}`, digest);
      }));

    test('listStaleUploads lists uploads written before the cutoff only', () =>
      withStore(async (store) => {
        const a = await upload(store, pattern(100, 41));
        const b = await upload(store, pattern(100, 42));
        const gone = await upload(store, pattern(100, 43));
        await store.abortUpload(gone);
        // A minute either side keeps the test immune to clock skew between us and a remote store.
        const future = new Date(Date.now() + 60_000);
        const past = new Date(Date.now() - 60_000);
        assert.deepEqual((await store.listStaleUploads(future)).sort(), [a, b].sort());
        assert.deepEqual(await store.listStaleUploads(past), []);
        await store.commitUpload(a, sha256(pattern(100, 41)));
        assert.deepEqual(await store.listStaleUploads(future), [b]);
      }));

    test('ping succeeds on a working store', () =>
      withStore(async (store) => {
        await store.ping();
        await store.ping();
        // Instances of a fleet check the same location at the same time.
        await Promise.all([store.ping(), store.ping(), store.ping()]);
        assert.equal(typeof store.kind, 'string');
        assert.ok(store.kind.length > 0);
      }));

    test('malicious digests and upload ids are rejected', () =>
      withStore(async (store) => {
        const id = await upload(store, pattern(10, 51));
        for (const digest of BAD_DIGESTS) {
          const label = JSON.stringify(digest);
          await assert.rejects(store.stat(digest), Error, `stat ${label}`);
          await assert.rejects(store.read(digest), (e: unknown) => e instanceof Error && !(e instanceof BlobNotFoundError), `read ${label}`);
          await assert.rejects(store.delete(digest), Error, `delete ${label}`);
          await assert.rejects(store.commitUpload(id, digest), Error, `commit ${label}`);
        }
        assert.equal(await store.uploadSize(id), 10, 'a refused commit leaves the upload alone');
        for (const bad of BAD_UPLOAD_IDS) {
          const label = JSON.stringify(bad);
          await assert.rejects(store.startUpload(bad), Error, `start ${label}`);
          await assert.rejects(store.appendUpload(bad, 0, bodyOf(Buffer.from('x'))), (e: unknown) => e instanceof Error && !(e instanceof UploadNotFoundError), `append ${label}`);
          await assert.rejects(store.uploadSize(bad), (e: unknown) => e instanceof Error && !(e instanceof UploadNotFoundError), `size ${label}`);
          await assert.rejects(store.abortUpload(bad), Error, `abort ${label}`);
          await assert.rejects(store.commitUpload(bad, sha256(Buffer.from('x'))), Error, `commit ${label}`);
        }
      }));
  });
}
