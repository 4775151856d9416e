import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createApp } from '../../src/server/create-app.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { startTestRegistry } from '../helpers/registry-server.js';
import { openAccess } from '../helpers/open-access.js';

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

async function errorCode(response: Response): Promise<string | undefined> {
  const body = (await response.json()) as { errors: Array<{ code: string }> };
  return body.errors[0]?.code;
}

async function push(base: string, name: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const response = await fetch(new URL(`/v2/${name}/blobs/uploads/?digest=${digest}`, base), {
    method: 'POST',
    body: new Uint8Array(data),
    headers: { 'content-type': 'application/octet-stream' },
  });
  assert.equal(response.status, 201, await response.text());
  return digest;
}

describe('blobs: GET, HEAD, DELETE', () => {
  let registry: Awaited<ReturnType<typeof startTestRegistry>>;
  const data = randomBytes(10_000);
  let digest: string;
  const blobUrl = (name: string, d = digest) => new URL(`/v2/${name}/blobs/${d}`, registry.url);

  before(async () => {
    registry = await startTestRegistry();
    digest = await push(registry.url, 'pull/app', data);
  });
  after(async () => registry?.close());

  it('serves a linked blob with its headers', async () => {
    const response = await fetch(blobUrl('pull/app'));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('docker-content-digest'), digest);
    assert.equal(response.headers.get('content-length'), String(data.length));
    assert.equal(response.headers.get('content-type'), 'application/octet-stream');
    assert.equal(response.headers.get('etag'), `"${digest}"`);
    assert.equal(response.headers.get('accept-ranges'), 'bytes');
    assert.equal(response.headers.get('cache-control'), 'max-age=31536000');
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), data);
  });

  it('answers HEAD with the same headers and no body', async () => {
    const response = await fetch(blobUrl('pull/app'), { method: 'HEAD' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-length'), String(data.length));
    assert.equal(response.headers.get('docker-content-digest'), digest);
    assert.equal((await response.arrayBuffer()).byteLength, 0);
  });

  it('serves ranges with 206 and refuses unsatisfiable ones with 416', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=2-5', 2, 5],
      ['bytes=-3', data.length - 3, data.length - 1],
      ['bytes=9990-', 9990, data.length - 1],
      ['bytes=9000-20000', 9000, data.length - 1],
    ];
    for (const [range, start, end] of cases) {
      const response = await fetch(blobUrl('pull/app'), { headers: { range } });
      assert.equal(response.status, 206, range);
      assert.equal(response.headers.get('content-range'), `bytes ${start}-${end}/${data.length}`, range);
      assert.equal(response.headers.get('content-length'), String(end - start + 1), range);
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), data.subarray(start, end + 1), range);
    }
    for (const range of ['bytes=10000-', 'bytes=20000-30000']) {
      const response = await fetch(blobUrl('pull/app'), { headers: { range } });
      assert.equal(response.status, 416, range);
      assert.equal(response.headers.get('content-range'), `bytes */${data.length}`, range);
      assert.equal(await errorCode(response), 'RANGE_INVALID');
    }
    // A malformed Range header is ignored: the whole blob.
    const ignored = await fetch(blobUrl('pull/app'), { headers: { range: 'bytes=abc' } });
    assert.equal(ignored.status, 200);
    assert.equal((await ignored.arrayBuffer()).byteLength, data.length);
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const response = await fetch(blobUrl('pull/app'), { headers: { 'if-none-match': `"${digest}"` } });
    assert.equal(response.status, 304);
    const other = await fetch(blobUrl('pull/app'), { headers: { 'if-none-match': '"sha256:other"' } });
    assert.equal(other.status, 200);
    await other.body?.cancel();
  });

  it('hides blobs not linked into the repository', async () => {
    for (const [name, d] of [
      ['pull/other', digest], // exists, but not linked here
      ['pull/app', sha256(Buffer.from('absent'))],
      ['no/such/repo', digest],
    ] as const) {
      for (const method of ['GET', 'HEAD', 'DELETE']) {
        const response = await fetch(blobUrl(name, d), { method });
        assert.equal(response.status, 404, `${method} ${name}`);
        if (method !== 'HEAD') assert.equal(await errorCode(response), 'BLOB_UNKNOWN');
      }
    }
    const bad = await fetch(blobUrl('pull/app', 'sha256:zz'));
    assert.equal(bad.status, 400);
    assert.equal(await errorCode(bad), 'DIGEST_INVALID');
  });

  it('reports a blob whose bytes vanished from storage as unknown', async () => {
    const lost = randomBytes(100);
    const lostDigest = await push(registry.url, 'pull/lost', lost);
    await registry.blobs.delete(lostDigest);
    const response = await fetch(blobUrl('pull/lost', lostDigest));
    assert.equal(response.status, 404);
    assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(await errorCode(response), 'BLOB_UNKNOWN');
  });

  it('unlinks a blob on DELETE, only from that repository', async () => {
    const shared = randomBytes(500);
    const d = await push(registry.url, 'pull/del-a', shared);
    await push(registry.url, 'pull/del-b', shared);
    const response = await fetch(blobUrl('pull/del-a', d), { method: 'DELETE' });
    assert.equal(response.status, 202);
    assert.equal((await fetch(blobUrl('pull/del-a', d), { method: 'HEAD' })).status, 404);
    assert.equal((await fetch(blobUrl('pull/del-b', d), { method: 'HEAD' })).status, 200);
    const again = await fetch(blobUrl('pull/del-a', d), { method: 'DELETE' });
    assert.equal(again.status, 404);
    assert.equal(await errorCode(again), 'BLOB_UNKNOWN');
  });
});

/** Wraps a real store: records the streams it hands out and optionally offers redirects. */
function observedStore(inner: LocalBlobStore, streams: Readable[], redirect?: string): BlobStore {
  const store: BlobStore = {
    kind: inner.kind,
    stat: (d) => inner.stat(d),
    read: async (d, r, s) => {
      const stream = await inner.read(d, r, s);
      streams.push(stream);
      return stream;
    },
    delete: (d) => inner.delete(d),
    startUpload: (id) => inner.startUpload(id),
    appendUpload: (id, o, b, s) => inner.appendUpload(id, o, b, s),
    uploadSize: (id) => inner.uploadSize(id),
    truncateUpload: (id, size) => inner.truncateUpload(id, size),
    commitUpload: (id, d) => inner.commitUpload(id, d),
    abortUpload: (id) => inner.abortUpload(id),
    listStaleUploads: (b) => inner.listStaleUploads(b),
    ping: () => inner.ping(),
  };
  if (redirect !== undefined) store.redirectUrl = async (d) => `${redirect}/${d}`;
  return store;
}

describe('blobs: streaming from storage', () => {
  let registry: Awaited<ReturnType<typeof startTestRegistry>>;
  let dir: string;
  const apps: FastifyInstance[] = [];

  async function startApp(blobs: BlobStore): Promise<string> {
    const app = await createApp({
      metadata: registry.metadata,
      blobs,
      auth: registry.auth,
      access: openAccess(registry.metadata),
      logger: false,
      options: { maxManifestBytes: 4 << 20, referrersApi: true, uploadExpiryMs: 24 * 3600_000 },
    });
    apps.push(app);
    return app.listen({ host: '127.0.0.1', port: 0 });
  }

  before(async () => {
    registry = await startTestRegistry();
    dir = await mkdtemp(path.join(tmpdir(), 'quayside-blobs-'));
  });
  after(async () => {
    for (const app of apps) await app.close();
    await registry?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stops reading storage when the client goes away', async () => {
    const streams: Readable[] = [];
    const url = await startApp(observedStore(new LocalBlobStore(dir), streams));
    const big = randomBytes(32 << 20);
    const digest = await push(url, 'stream/big', big);
    await new Promise<void>((resolve, reject) => {
      const request = http.get(new URL(`/v2/stream/big/blobs/${digest}`, url), (response) => {
        assert.equal(response.statusCode, 200);
        response.once('data', () => {
          request.destroy();
          resolve();
        });
      });
      request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
    });
    const deadline = Date.now() + 10_000;
    while (!streams[0]?.destroyed) {
      if (Date.now() > deadline) assert.fail('storage stream was not destroyed after the client left');
      await sleep(20);
    }
    assert.equal(streams.length, 1);
    assert.ok((streams[0] as Readable).readableEnded === false, 'the stream was cut short, not read to the end');
    const after = await fetch(new URL(`/v2/stream/big/blobs/${digest}`, url), { headers: { range: 'bytes=0-9' } });
    assert.deepEqual(Buffer.from(await after.arrayBuffer()), big.subarray(0, 10), 'the server goes on serving');
  });

  it('redirects GET (not HEAD) when the driver offers a URL', async () => {
    const url = await startApp(observedStore(new LocalBlobStore(dir), [], 'https://storage.example/blobs'));
    const data = randomBytes(100);
    const digest = await push(url, 'stream/redirect', data);
    const response = await fetch(new URL(`/v2/stream/redirect/blobs/${digest}`, url), { redirect: 'manual' });
    assert.equal(response.status, 307);
    assert.equal(response.headers.get('location'), `https://storage.example/blobs/${digest}`);
    const head = await fetch(new URL(`/v2/stream/redirect/blobs/${digest}`, url), { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '100');
  });
});
