import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { UploadOffsetError } from '../../src/storage/blob-store.js';
import { createBlobStore, parseStorageLocation, StorageConfigError } from '../../src/storage/factory.js';
import { STORAGE_DRIVERS } from '../../src/storage/drivers.js';
import { blobRelativePath, LocalBlobStore } from '../../src/storage/local.js';
import { collect, pattern, runBlobStoreConformance, sha256 } from './conformance.js';

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'quayside-local-'));
}

runBlobStoreConformance('local', async () => {
  const dir = await tempDir();
  return { store: new LocalBlobStore(path.join(dir, 'root')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

/** Runs `body` with a store under a fresh temp dir; the store root is `<dir>/root`. */
async function withLocal(body: (store: LocalBlobStore, root: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  const root = path.join(dir, 'root');
  try {
    await body(new LocalBlobStore(root), root, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function uploadOf(store: LocalBlobStore, data: Buffer): Promise<string> {
  const id = randomUUID();
  await store.startUpload(id);
  await store.appendUpload(id, 0, Readable.from([data]));
  return id;
}

describe('LocalBlobStore specifics', () => {
  test('blobs live at sha256/<2 hex>/<hex> and uploads at uploads/<id>', () =>
    withLocal(async (store, root) => {
      const data = pattern(1234, 3);
      const digest = sha256(data);
      const hex = digest.slice('sha256:'.length);
      const id = await uploadOf(store, data);
      assert.deepEqual(await readFile(path.join(root, 'uploads', id)), data);
      await store.commitUpload(id, digest);
      assert.deepEqual(await readFile(path.join(root, 'sha256', hex.slice(0, 2), hex)), data);
      assert.deepEqual(await readdir(path.join(root, 'uploads')), []);
      assert.equal(blobRelativePath(digest), path.join('sha256', hex.slice(0, 2), hex));
    }));

  test('the root is created when missing, several levels deep', () =>
    withLocal(async (_store, _root, dir) => {
      const deep = path.join(dir, 'a', 'b', 'c');
      const store = new LocalBlobStore(deep);
      await store.ping();
      assert.ok((await stat(path.join(deep, 'sha256'))).isDirectory());
      assert.ok((await stat(path.join(deep, 'uploads'))).isDirectory());
    }));

  test("ping writes Quay's marker <storage_path>/_verify = 'testing 123' and leaves nothing else", () =>
    withLocal(async (store, root) => {
      await store.ping();
      assert.deepEqual((await readdir(root)).sort(), ['_verify', 'sha256', 'uploads']);
      assert.equal(await readFile(path.join(root, '_verify'), 'utf8'), 'testing 123');
      // Several instances checking at once never read a half-written marker.
      await Promise.all(Array.from({ length: 8 }, () => store.ping()));
      assert.deepEqual((await readdir(root)).sort(), ['_verify', 'sha256', 'uploads']);
    }));

  test('ping rewrites a damaged marker', () =>
    withLocal(async (store, root) => {
      await store.ping();
      await writeFile(path.join(root, '_verify'), 'garbage');
      await store.ping();
      assert.equal(await readFile(path.join(root, '_verify'), 'utf8'), 'testing 123');
    }));

  test('ping fails when the root cannot be created', () =>
    withLocal(async (_store, _root, dir) => {
      const file = path.join(dir, 'a-file');
      await writeFile(file, 'not a directory');
      await assert.rejects(new LocalBlobStore(path.join(file, 'root')).ping(), { code: 'ENOTDIR' });
    }));

  test('nothing a client sends reaches outside the root', () =>
    withLocal(async (store, root, dir) => {
      const canary = path.join(dir, 'canary');
      await writeFile(canary, 'keep me');
      await store.ping();
      const parentBefore = (await readdir(dir)).sort();
      for (const digest of ['sha256:../../canary', '../canary', canary, `sha256:${'0'.repeat(64)}/../../../canary`]) {
        await assert.rejects(store.delete(digest), /invalid blob digest/);
        await assert.rejects(store.read(digest), /invalid blob digest/);
      }
      for (const id of ['../canary', '../../x', canary, '..']) {
        await assert.rejects(store.abortUpload(id), /invalid upload id/);
        await assert.rejects(store.startUpload(id), /invalid upload id/);
      }
      assert.equal(await readFile(canary, 'utf8'), 'keep me');
      assert.deepEqual((await readdir(dir)).sort(), parentBefore);
      assert.deepEqual((await readdir(path.join(root, 'uploads'))), []);
    }));

  test('an invalid digest is refused before the filesystem is touched', () =>
    withLocal(async (store, root) => {
      await assert.rejects(store.stat('sha256:../../etc'), /invalid blob digest/);
      await assert.rejects(stat(root), { code: 'ENOENT' });
    }));

  test('listStaleUploads goes by modification time and ignores foreign files', () =>
    withLocal(async (store, root) => {
      const old = await uploadOf(store, Buffer.from('old'));
      const fresh = await uploadOf(store, Buffer.from('fresh'));
      const hourAgo = new Date(Date.now() - 3_600_000);
      await utimes(path.join(root, 'uploads', old), hourAgo, hourAgo);
      await writeFile(path.join(root, 'uploads', '.DS_Store'), 'junk');
      await utimes(path.join(root, 'uploads', '.DS_Store'), hourAgo, hourAgo);
      assert.deepEqual(await store.listStaleUploads(new Date(Date.now() - 60_000)), [old]);
      assert.deepEqual((await store.listStaleUploads(new Date(Date.now() + 60_000))).sort(), [fresh, old].sort());
    }));

  test('a second append to an upload while one is running fails with UploadOffsetError', () =>
    withLocal(async (store, root) => {
      const id = await uploadOf(store, Buffer.from('head'));
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let reading: () => void = () => undefined;
      const firstChunkTaken = new Promise<void>((resolve) => {
        reading = resolve;
      });
      const slow = Readable.from(
        (async function* () {
          yield Buffer.from('a');
          reading();
          await gate;
          yield Buffer.from('b');
        })(),
      );
      const first = store.appendUpload(id, 4, slow);
      // Wait until the first append is consuming its body (the driver may batch writes, so the file
      // size says nothing yet), however busy the machine is.
      await firstChunkTaken;
      await assert.rejects(store.appendUpload(id, 4, Readable.from([Buffer.from('x')])), UploadOffsetError);
      release();
      assert.equal(await first, 6);
      assert.equal(await readFile(path.join(root, 'uploads', id), 'utf8'), 'headab');
    }));

  test('startUpload refuses an id already in use', () =>
    withLocal(async (store) => {
      const id = await uploadOf(store, Buffer.from('data'));
      await assert.rejects(store.startUpload(id), /already exists/);
      assert.equal(await store.uploadSize(id), 4);
    }));

  test('a range whose end passes the blob is clamped; one starting past it is refused', () =>
    withLocal(async (store) => {
      const data = pattern(100, 8);
      const digest = sha256(data);
      await store.commitUpload(await uploadOf(store, data), digest);
      assert.deepEqual(await collect(await store.read(digest, { start: 90, end: 1000 })), data.subarray(90));
      await assert.rejects(store.read(digest, { start: 100, end: 120 }), RangeError);
    }));

  test('an aborted signal ends a blob read', () =>
    withLocal(async (store) => {
      const data = pattern(1 << 20, 4);
      const digest = sha256(data);
      await store.commitUpload(await uploadOf(store, data), digest);
      const controller = new AbortController();
      const stream = await store.read(digest, undefined, controller.signal);
      controller.abort();
      await assert.rejects(collect(stream), { name: 'AbortError' });
      await assert.rejects(store.read(digest, undefined, AbortSignal.abort()), { name: 'AbortError' });
    }));

  test('a negative or fractional offset is refused', () =>
    withLocal(async (store) => {
      const id = await uploadOf(store, Buffer.from('x'));
      await assert.rejects(store.appendUpload(id, -1, Readable.from([Buffer.from('y')])), RangeError);
      await assert.rejects(store.appendUpload(id, 0.5, Readable.from([Buffer.from('y')])), RangeError);
      assert.equal(await store.uploadSize(id), 1);
    }));
});

describe('storage locations: the driver registry and its parameters', () => {
  test('LocalStorage builds a LocalBlobStore at storage_path', async () => {
    const dir = await tempDir();
    try {
      const store = createBlobStore('default', ['LocalStorage', { storage_path: path.join(dir, 'blobs') }]);
      assert.ok(store instanceof LocalBlobStore);
      assert.equal(store.kind, 'local');
      await store.ping();
      assert.ok((await stat(path.join(dir, 'blobs', 'sha256'))).isDirectory());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('bad LocalStorage parameters are one line naming the location, the driver, the key and the problem', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'DISTRIBUTED_STORAGE_CONFIG.default: LocalStorage: storage_path: required (expected a string)'],
      [{ storage_path: '' }, 'DISTRIBUTED_STORAGE_CONFIG.default: LocalStorage: storage_path: must not be empty'],
      [{ storage_path: '   ' }, 'DISTRIBUTED_STORAGE_CONFIG.default: LocalStorage: storage_path: must not be empty'],
      [{ storage_path: 42 }, 'DISTRIBUTED_STORAGE_CONFIG.default: LocalStorage: storage_path: expected a string, got the number 42'],
      [{ storage_path: ['/x'] }, 'DISTRIBUTED_STORAGE_CONFIG.default: LocalStorage: storage_path: expected a string, got a list'],
      [{ storage_path: '/x', storage_paht: '/y' }, 'DISTRIBUTED_STORAGE_CONFIG.default: LocalStorage: storage_paht: unknown parameter (did you mean storage_path?)'],
    ];
    for (const [params, message] of cases) {
      assert.throws(() => parseStorageLocation('default', ['LocalStorage', params]), (e: unknown) =>
        e instanceof StorageConfigError && e.location === 'default' && e.message === message, JSON.stringify(params));
    }
  });

  test('Quay drivers this build does not have say so in one line', () => {
    for (const driver of ['CloudFrontedS3Storage', 'AzureStorage', 'STSS3Storage', 'CloudFlareStorage', 'IBMCloudStorage']) {
      assert.throws(() => parseStorageLocation('eu', [driver, { s3_bucket: 'b' }]), (e: unknown) =>
        e instanceof StorageConfigError &&
        e.message === `DISTRIBUTED_STORAGE_CONFIG.eu: storage driver ${driver} is not available in this version of Quayside (available: ${STORAGE_DRIVERS.map((d) => d.name).join(', ')})`);
    }
  });

  test('an unknown driver name is called unknown', () => {
    for (const driver of ['FancyStorage', 'localstorage', '']) {
      assert.throws(() => parseStorageLocation('x', [driver, {}]), (e: unknown) =>
        e instanceof StorageConfigError && e.message.startsWith(`DISTRIBUTED_STORAGE_CONFIG.x: unknown storage driver ${JSON.stringify(driver)} (available: `) && !e.message.includes('\n'));
    }
  });

  test('every registered driver has a unique Quay name and a strict schema', () => {
    const names = STORAGE_DRIVERS.map((driver) => driver.name);
    assert.equal(new Set(names).size, names.length);
    assert.ok(names.includes('LocalStorage'));
    for (const driver of STORAGE_DRIVERS) {
      assert.throws(() => parseStorageLocation('strict', [driver.name, { surely_not_a_parameter: 1 }]), (e: unknown) =>
        e instanceof StorageConfigError && e.message.includes('surely_not_a_parameter: unknown parameter'), driver.name);
    }
  });
});
