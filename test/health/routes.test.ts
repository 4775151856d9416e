import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Metadata } from '../../src/db/metadata.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';

/** Metadata whose ping never answers (a hung database). */
function hangingPing(m: Metadata): Metadata {
  return {
    repositories: m.repositories,
    blobs: m.blobs,
    uploads: m.uploads,
    manifests: m.manifests,
    tags: m.tags,
    garbage: m.garbage,
    ping: () => new Promise<void>(() => undefined),
    close: () => m.close(),
  };
}

/** A real local store that counts its pings. */
class CountingStore extends LocalBlobStore {
  constructor(root: string, private readonly pings: { count: number }) {
    super(root);
  }

  override async ping(): Promise<void> {
    this.pings.count += 1;
    await super.ping();
  }
}

/** A local store whose probe fails (storage unreachable). */
class BrokenStore extends LocalBlobStore {
  override async ping(): Promise<void> {
    throw new Error('storage unreachable');
  }
}

describe('health endpoints', () => {
  const started: TestRegistry[] = [];
  after(async () => {
    for (const reg of started) await reg.close();
  });

  it('answer Quay-shaped 200: /health/instance without storage, /health/endtoend with it', async () => {
    const reg = await startTestRegistry();
    started.push(reg);
    for (const [path, services] of [['/health/instance', { database: true }], ['/health/endtoend', { database: true, storage: true }]] as const) {
      const res = await fetch(`${reg.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(await res.json(), { data: { services }, status_code: 200 }, path);
    }
  });

  it("/health/endtoend writes Quay's _verify marker in the preferred location; /health/instance never touches storage", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quayside-health-'));
    try {
      const pings = { count: 0 };
      const reg = await startTestRegistry({ blobs: new CountingStore(join(dir, 'root'), pings) });
      started.push(reg);
      const before = pings.count;
      for (let i = 0; i < 3; i += 1) assert.equal((await fetch(`${reg.url}/health/instance`)).status, 200);
      assert.equal(pings.count, before, '/health/instance did not ping storage');
      await assert.rejects(readFile(join(dir, 'root', '_verify')), { code: 'ENOENT' });
      assert.equal((await fetch(`${reg.url}/health/endtoend`)).status, 200);
      assert.equal(pings.count, before + 1);
      assert.equal(await readFile(join(dir, 'root', '_verify'), 'utf8'), 'testing 123');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('/health/endtoend answers 503 naming storage when the blob store fails its check; /health/instance stays 200', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quayside-health-'));
    try {
      const reg = await startTestRegistry({ blobs: new BrokenStore(dir) });
      started.push(reg);
      const endToEnd = await fetch(`${reg.url}/health/endtoend`);
      assert.equal(endToEnd.status, 503);
      assert.deepEqual(await endToEnd.json(), { data: { services: { database: true, storage: false } }, status_code: 503 });
      const instance = await fetch(`${reg.url}/health/instance`);
      assert.equal(instance.status, 200);
      assert.deepEqual(await instance.json(), { data: { services: { database: true } }, status_code: 200 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('/health/endtoend fails when the marker cannot be written (a read-only storage directory)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quayside-health-'));
    try {
      // A storage_path under a regular file: no marker can ever be written there, even as root.
      await writeFile(join(dir, 'file'), 'not a directory');
      const reg = await startTestRegistry({ blobs: new LocalBlobStore(join(dir, 'file', 'root')) });
      started.push(reg);
      const res = await fetch(`${reg.url}/health/endtoend`);
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { data: { services: { database: true, storage: false } }, status_code: 503 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answer 503 naming the database when its probe times out', async () => {
    const reg = await startTestRegistry({ wrapMetadata: hangingPing, healthTimeoutMs: 200 });
    started.push(reg);
    const res = await fetch(`${reg.url}/health/endtoend`);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { data: { services: { database: false, storage: true } }, status_code: 503 });
    const instance = await fetch(`${reg.url}/health/instance`);
    assert.equal(instance.status, 503);
    assert.deepEqual(await instance.json(), { data: { services: { database: false } }, status_code: 503 });
  });

  it('answer the Docker v1 ping as Quay does', async () => {
    const reg = await startTestRegistry();
    started.push(reg);
    const res = await fetch(`${reg.url}/v1/_ping`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('x-docker-registry-version'), '0.6.0');
    assert.equal(res.headers.get('x-docker-registry-standalone'), '0');
    assert.equal(await res.text(), 'true');
  });
});
