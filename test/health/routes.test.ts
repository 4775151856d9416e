import assert from 'node:assert/strict';
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
    ping: () => new Promise<void>(() => undefined),
    close: () => m.close(),
  };
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

  it('answer Quay-shaped 200 when database and storage work', async () => {
    const reg = await startTestRegistry();
    started.push(reg);
    for (const path of ['/health/instance', '/health/endtoend']) {
      const res = await fetch(`${reg.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(await res.json(), { data: { services: { database: true, storage: true } }, status_code: 200 });
    }
  });

  it('answer 503 naming storage when the blob store fails its probe', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'quayside-health-'));
    try {
      const reg = await startTestRegistry({ blobs: new BrokenStore(dir) });
      started.push(reg);
      const res = await fetch(`${reg.url}/health/instance`);
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
