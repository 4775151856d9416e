// A storage outage, as an object-store driver reports it: its backend cannot be reached, the driver's
// StorageFaults classify that as 'unavailable', and /v2 answers 503 UNAVAILABLE with Retry-After and an OCI
// error body that says nothing about the backend; the operator gets one log line per outage; when the backend
// is back, requests succeed again by themselves.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { BlobStore, ByteRange } from '../../src/storage/blob-store.js';
import { FaultClassifyingStore, StorageFaultError, StorageFaults, STORAGE_RETRY_AFTER_S } from '../../src/storage/faults.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { capturingLogger } from '../helpers/log-capture.js';
import { pushBlob, sha256 } from '../helpers/oci-images.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';

/** Where the pretend object store lives: it must never reach a client. */
const BACKEND = 'object store at http://10.9.8.7:8080/secret-bucket';

/** A backend that works (over a real local store) until it is taken down; then every call fails to connect. */
class SwitchableBackend implements BlobStore {
  readonly kind = 'switchable';
  down = false;

  constructor(private readonly inner: LocalBlobStore) {}

  private async gate(): Promise<void> {
    if (this.down) throw Object.assign(new Error('connect ECONNREFUSED 10.9.8.7:8080'), { code: 'ECONNREFUSED' });
  }

  async stat(digest: string) {
    await this.gate();
    return this.inner.stat(digest);
  }
  async read(digest: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    await this.gate();
    return this.inner.read(digest, range, signal);
  }
  async delete(digest: string) {
    await this.gate();
    return this.inner.delete(digest);
  }
  async startUpload(id: string) {
    await this.gate();
    return this.inner.startUpload(id);
  }
  async appendUpload(id: string, offset: number, body: Readable, signal?: AbortSignal) {
    await this.gate();
    return this.inner.appendUpload(id, offset, body, signal);
  }
  async truncateUpload(id: string, size: number) {
    await this.gate();
    return this.inner.truncateUpload(id, size);
  }
  async uploadSize(id: string) {
    await this.gate();
    return this.inner.uploadSize(id);
  }
  async commitUpload(id: string, digest: string) {
    await this.gate();
    return this.inner.commitUpload(id, digest);
  }
  async abortUpload(id: string) {
    await this.gate();
    return this.inner.abortUpload(id);
  }
  async listStaleUploads(before: Date) {
    await this.gate();
    return this.inner.listStaleUploads(before);
  }
  async ping() {
    await this.gate();
    return this.inner.ping();
  }
}

interface LogLine {
  msg?: string;
  fault?: string;
  [key: string]: unknown;
}

async function assertUnavailable(response: Response, what: string): Promise<void> {
  const text = await response.text();
  assert.equal(response.status, 503, `${what}: ${text}`);
  assert.equal(response.headers.get('retry-after'), String(STORAGE_RETRY_AFTER_S), what);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, what);
  const body = JSON.parse(text) as { errors: Array<{ code: string; message: string; detail?: unknown }> };
  assert.deepEqual(body.errors, [{ code: 'UNAVAILABLE', message: 'the storage is unavailable; retry later', detail: { fault: 'unavailable' } }], what);
  for (const internal of ['secret-bucket', '10.9.8.7', 'ECONNREFUSED', 'switchable', '    at ']) {
    assert.ok(!text.includes(internal), `${what}: the body shows ${internal}: ${text}`);
  }
}

describe('a storage outage answers 503 UNAVAILABLE with Retry-After', () => {
  let dir: string;
  let backend: SwitchableBackend;
  let registry: TestRegistry;
  const lines: LogLine[] = [];
  const faultLines = () => lines.filter((line) => typeof line.msg === 'string' && line.msg.startsWith('storage fault:'));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quayside-unavailable-'));
    backend = new SwitchableBackend(new LocalBlobStore(join(dir, 'storage')));
    const store = new FaultClassifyingStore(backend, new StorageFaults(BACKEND));
    registry = await startTestRegistry({ blobs: store, logger: capturingLogger(lines as Array<Record<string, unknown>>) });
  });
  after(async () => {
    await registry?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('on pulls, pushes and chunks, with one log line for the whole outage, and recovers by itself', async () => {
    const data = randomBytes(50_000);
    const digest = await pushBlob(registry.url, 'outage/app', data);
    const session = await fetch(`${registry.url}/v2/outage/app/blobs/uploads/`, { method: 'POST' });
    assert.equal(session.status, 202);
    const location = new URL(session.headers.get('location') ?? '', registry.url);

    backend.down = true;
    const timeout = () => AbortSignal.timeout(30_000);
    for (let round = 0; round < 3; round += 1) {
      await assertUnavailable(await fetch(`${registry.url}/v2/outage/app/blobs/${digest}`, { signal: timeout() }), 'GET blob');
      await assertUnavailable(await fetch(`${registry.url}/v2/outage/app/blobs/uploads/`, { method: 'POST', signal: timeout() }), 'POST session');
      const other = randomBytes(1000);
      await assertUnavailable(
        await fetch(`${registry.url}/v2/outage/app/blobs/uploads/?digest=${sha256(other)}`, { method: 'POST', body: new Uint8Array(other), signal: timeout() }),
        'monolithic POST',
      );
      await assertUnavailable(
        await fetch(location, { method: 'PATCH', body: new Uint8Array(randomBytes(2000)), headers: { 'content-type': 'application/octet-stream' }, signal: timeout() }),
        'PATCH',
      );
    }
    // HEAD answers from the database: an outage of the storage does not touch it.
    const head = await fetch(`${registry.url}/v2/outage/app/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const endToEnd = await fetch(`${registry.url}/health/endtoend`);
    assert.equal(endToEnd.status, 503);
    assert.equal(faultLines().length, 1, `one line for the outage: ${JSON.stringify(faultLines())}`);
    assert.equal(faultLines()[0]?.fault, 'unavailable');
    assert.match(String(faultLines()[0]?.msg), /storage is unavailable/);

    backend.down = false;
    const pulled = await fetch(`${registry.url}/v2/outage/app/blobs/${digest}`);
    assert.equal(pulled.status, 200);
    assert.deepEqual(Buffer.from(await pulled.arrayBuffer()), data);
    const chunk = randomBytes(3000);
    const patched = await fetch(location, { method: 'PATCH', body: new Uint8Array(chunk), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(patched.status, 202, await patched.text());
    location.searchParams.set('digest', sha256(chunk));
    assert.equal((await fetch(location, { method: 'PUT' })).status, 201, 'the session survived the outage');

    // The next outage is a new fault period: logged again, once.
    backend.down = true;
    await assertUnavailable(await fetch(`${registry.url}/v2/outage/app/blobs/${digest}`), 'GET in the second outage');
    await assertUnavailable(await fetch(`${registry.url}/v2/outage/app/blobs/${digest}`), 'GET in the second outage');
    assert.equal(faultLines().length, 2);
    backend.down = false;
  });
});

describe('StorageFaults with a driver-side classifier', () => {
  it('turns what the driver recognizes into faults of its kind, one report per period, and leaves the rest alone', async () => {
    let now = 0;
    const faults = new StorageFaults(BACKEND, () => now, (error) => {
      const status = (error as { status?: number }).status;
      if (status !== undefined && status >= 500) return { kind: 'unavailable', code: `HTTP ${status}` };
      if (status === 403) return { kind: 'permission-denied', code: 'HTTP 403' };
      return undefined;
    });
    const http = (status: number) => Object.assign(new Error(`status ${status}`), { status });
    const first = faults.classify(http(503));
    assert.ok(first instanceof StorageFaultError);
    assert.equal(first.kind, 'unavailable');
    assert.equal(first.backendCode, 'HTTP 503');
    assert.equal(first.report, true);
    assert.equal((faults.classify(http(503)) as StorageFaultError).report, false);
    assert.equal((faults.classify(http(403)) as StorageFaultError).kind, 'permission-denied');
    const missing = http(404);
    assert.equal(faults.classify(missing), missing, 'a missing object is not a fault');
    // Socket errors are outages even without the driver's help.
    const refused = faults.classify(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
    assert.equal((refused as StorageFaultError).kind, 'unavailable');

    // A success ends the outage; a permission problem stays remembered (an operator must fix it).
    await faults.run(async () => undefined);
    assert.equal((faults.classify(http(503)) as StorageFaultError).report, true, 'a new outage is reported');
    assert.equal((faults.classify(http(403)) as StorageFaultError).report, false);
    now += 10 * 60 * 1000;
    assert.equal((faults.classify(http(403)) as StorageFaultError).report, true, 'and reported again after the interval');
  });
});
