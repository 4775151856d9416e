// Blob GETs redirect (307) to the URL a driver signs, as Quay does for S3 and Swift, unless FEATURE_PROXY_STORAGE
// is on; HEAD never redirects. The "signed URL" here is served by a small HTTP file server over the same local
// store, so the redirect is followed for real: by fetch, and by skopeo pulling an image through it.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { buildMultiArchIndex, hashLayoutBlobs, pushBlob, readLayoutImage, sha256 } from '../helpers/oci-images.js';
import { skopeo } from '../helpers/processes.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';

/** A file server for the blobs of `store` at /blobs/<digest>?token=<token>; anything else is 403/404. */
class SignedFileServer {
  readonly token = randomUUID();
  /** Digests served, in order. */
  readonly served: string[] = [];
  private server: Server | undefined;
  private base = '';

  constructor(private readonly store: BlobStore) {}

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://files');
      const digest = url.pathname.replace(/^\/blobs\//, '');
      if (url.searchParams.get('token') !== this.token) {
        response.writeHead(403).end('bad signature');
        return;
      }
      this.store
        .read(digest)
        .then(async (stream) => {
          const stat = await this.store.stat(digest);
          this.served.push(digest);
          response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(stat?.size ?? 0) });
          await pipeline(stream, response);
        })
        .catch(() => {
          if (!response.headersSent) response.writeHead(404).end('no such blob');
          else response.destroy();
        });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  urlOf(digest: string): string {
    return `${this.base}/blobs/${digest}?token=${this.token}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** A real LocalBlobStore whose driver "signs" URLs pointing at the file server, as S3 or Swift would. */
class RedirectingStore extends LocalBlobStore {
  files: SignedFileServer | undefined;
  override readonly redirectUrl = async (digest: string): Promise<string | undefined> => this.files?.urlOf(digest);
}

describe('blob GET redirects to the storage URL', () => {
  let dir: string;
  let store: RedirectingStore;
  let files: SignedFileServer;
  let redirecting: TestRegistry;
  let proxying: TestRegistry;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quayside-redirect-'));
    store = new RedirectingStore(join(dir, 'storage'));
    files = new SignedFileServer(store);
    store.files = files;
    await files.start();
    redirecting = await startTestRegistry({ blobs: store });
    proxying = await startTestRegistry({ blobs: store, registry: { proxyStorage: true } });
  });
  after(async () => {
    await redirecting?.close();
    await proxying?.close();
    await files?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers GET with 307 to the signed URL, which serves the bytes', async () => {
    const data = randomBytes(300_000);
    const digest = await pushBlob(redirecting.url, 'redirect/one', data);
    const response = await fetch(`${redirecting.url}/v2/redirect/one/blobs/${digest}`, { redirect: 'manual' });
    assert.equal(response.status, 307);
    assert.equal(response.headers.get('location'), files.urlOf(digest));
    assert.equal(response.headers.get('docker-content-digest'), digest);
    await response.arrayBuffer();
    const followed = await fetch(`${redirecting.url}/v2/redirect/one/blobs/${digest}`);
    assert.equal(followed.status, 200);
    assert.deepEqual(Buffer.from(await followed.arrayBuffer()), data);
    assert.equal(files.served.at(-1), digest, 'the bytes came from the file server');
  });

  it('never redirects HEAD: the size and digest come from Quayside', async () => {
    const data = randomBytes(1234);
    const digest = await pushBlob(redirecting.url, 'redirect/head', data);
    const servedBefore = files.served.length;
    const head = await fetch(`${redirecting.url}/v2/redirect/head/blobs/${digest}`, { method: 'HEAD', redirect: 'manual' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('location'), null);
    assert.equal(head.headers.get('content-length'), '1234');
    assert.equal(head.headers.get('docker-content-digest'), digest);
    assert.equal(files.served.length, servedBefore);
  });

  it('does not redirect a blob the repository does not link (404 first, no URL leaked)', async () => {
    const digest = await pushBlob(redirecting.url, 'redirect/owner', randomBytes(100));
    const response = await fetch(`${redirecting.url}/v2/redirect/other/blobs/${digest}`, { redirect: 'manual' });
    assert.equal(response.status, 404);
    assert.equal(response.headers.get('location'), null);
    assert.ok(!(await response.text()).includes(files.token));
  });

  it('with FEATURE_PROXY_STORAGE streams the bytes itself, whole and ranged', async () => {
    const data = randomBytes(200_000);
    const digest = await pushBlob(proxying.url, 'proxy/one', data);
    const servedBefore = files.served.length;
    const response = await fetch(`${proxying.url}/v2/proxy/one/blobs/${digest}`, { redirect: 'manual' });
    assert.equal(response.status, 200);
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), data);
    const ranged = await fetch(`${proxying.url}/v2/proxy/one/blobs/${digest}`, { redirect: 'manual', headers: { range: 'bytes=10-19' } });
    assert.equal(ranged.status, 206);
    assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), data.subarray(10, 20));
    assert.equal(files.served.length, servedBefore, 'the file server was not used');
  });

  it('skopeo pulls an image through the redirect, byte for byte', async () => {
    const work = join(dir, 'skopeo');
    const image = await buildMultiArchIndex(join(work, 'src'), 'v1');
    const ref = `docker://${new URL(redirecting.url).host}/redirect/skopeo:v1`;
    await skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${image.dir}:v1`, ref]);
    const servedBefore = files.served.length;
    await skopeo(['copy', '--all', '--src-tls-verify=false', ref, `oci:${join(work, 'out')}:v1`]);
    const copied = await readLayoutImage(join(work, 'out'), 'v1');
    assert.equal(copied.manifest.digest, image.manifest.digest);
    const sourceBlobs = await hashLayoutBlobs(image.dir);
    const outBlobs = await hashLayoutBlobs(join(work, 'out'));
    for (const [name, actual] of outBlobs) assert.equal(actual, name, `copied blob ${name} holds other bytes`);
    assert.deepEqual([...outBlobs.keys()].sort(), [...sourceBlobs.keys()].sort());
    // Manifests come from Quayside; every config and layer blob came through the redirect.
    const pulledThroughRedirect = new Set(files.served.slice(servedBefore));
    assert.ok(pulledThroughRedirect.size >= 4, `blobs served by the file server: ${[...pulledThroughRedirect].join(', ')}`);
    for (const digest of pulledThroughRedirect) assert.equal(outBlobs.get(digest), digest);
    assert.ok(sha256(copied.manifestBytes) === copied.manifest.digest);
  });
});
