import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { runInNewContext } from 'node:vm';
import v8 from 'node:v8';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { openDatabase, type Database, type Dialect } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import type { RegistryOptions } from '../../src/registry/context.js';
import { createApp } from '../../src/server/create-app.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { startTestRegistry, testAuthServices } from '../helpers/registry-server.js';
import { openAccess } from '../helpers/open-access.js';
import { freshDatabase } from '../helpers/databases.js';

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

interface ErrorBody {
  errors: Array<{ code: string; message: string; detail?: unknown }>;
}

async function errorCode(response: Response): Promise<string | undefined> {
  const body = (await response.json()) as ErrorBody;
  return body.errors[0]?.code;
}

/** A /v2 client for one registry base URL. */
class Client {
  constructor(readonly base: string) {}

  url(pathOrLocation: string): string {
    return new URL(pathOrLocation, this.base).toString();
  }

  async start(name: string): Promise<string> {
    const response = await fetch(this.url(`/v2/${name}/blobs/uploads/`), { method: 'POST' });
    assert.equal(response.status, 202, await response.text());
    const location = response.headers.get('location');
    assert.ok(location);
    return location;
  }

  patch(location: string, chunk: Buffer, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(this.url(location), {
      method: 'PATCH',
      body: new Uint8Array(chunk),
      headers: { 'content-type': 'application/octet-stream', ...headers },
    });
  }

  put(location: string, digest: string, body?: Buffer): Promise<Response> {
    const target = new URL(this.url(location));
    target.searchParams.set('digest', digest);
    const headers = { 'content-type': 'application/octet-stream' };
    return fetch(target, { method: 'PUT', body: body && new Uint8Array(body), headers });
  }

  /** Monolithic POST ?digest=. */
  monolithic(name: string, data: Buffer, digest = sha256(data)): Promise<Response> {
    return fetch(this.url(`/v2/${name}/blobs/uploads/?digest=${digest}`), {
      method: 'POST',
      body: new Uint8Array(data),
      headers: { 'content-type': 'application/octet-stream' },
    });
  }

  async blob(name: string, digest: string): Promise<Buffer | number> {
    const response = await fetch(this.url(`/v2/${name}/blobs/${digest}`));
    if (response.status !== 200) {
      await response.body?.cancel();
      return response.status;
    }
    return Buffer.from(await response.arrayBuffer());
  }

  async status(location: string): Promise<Response> {
    return fetch(this.url(location));
  }
}

/** Sends a raw HTTP request with a body of chunks (chunked transfer encoding unless content-length is given). */
function rawRequest(
  base: string,
  method: string,
  target: string,
  body: Iterable<Buffer> | AsyncIterable<Buffer>,
  headers: Record<string, string | undefined> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  // An undefined value leaves the header out altogether.
  const sent = Object.entries({ 'content-type': 'application/octet-stream', ...headers }).filter(
    (entry): entry is [string, string] => entry[1] !== undefined,
  );
  return new Promise((resolve, reject) => {
    const request = http.request(new URL(target, base), { method, headers: Object.fromEntries(sent) });
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
      response.on('error', reject);
    });
    request.on('error', reject);
    pipeline(Readable.from(body), request).catch(() => undefined);
  });
}

/**
 * Several app instances over one database and one storage directory, each with its own LocalBlobStore
 * instance, like instances of a fleet behind a balancer.
 */
interface Fleet {
  apps: FastifyInstance[];
  clients: Client[];
  stores: BlobStore[];
  metadata: Metadata;
  /** Streams of stored bytes handed out by any instance's store (blob reads; uploads cannot be read). */
  reads: () => number;
  close(): Promise<void>;
}

/**
 * A real LocalBlobStore that counts every stream of stored bytes it hands out. The BlobStore interface has no
 * way to read an upload back, so a digest that comes out right with no read proves it was continued from the
 * state in the row.
 */
function countingStore(inner: LocalBlobStore, counter: { reads: number }): BlobStore {
  return {
    kind: inner.kind,
    stat: (d) => inner.stat(d),
    read: (d, r, s) => {
      counter.reads += 1;
      return inner.read(d, r, s);
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
}

async function startFleet(count: number, options: Partial<RegistryOptions> = {}, dialect: Dialect = 'sqlite'): Promise<Fleet> {
  const dir = await mkdtemp(path.join(tmpdir(), 'quayside-uploads-'));
  let database: Database;
  let dropDatabase: () => Promise<void>;
  if (dialect === 'sqlite') {
    database = await openDatabase({ uri: `sqlite:///${path.join(dir, 'registry.db')}` });
    await migrateToLatest(database);
    dropDatabase = () => database.close();
  } else {
    const fresh = await freshDatabase(dialect);
    database = fresh.database;
    dropDatabase = () => fresh.drop();
  }
  const metadata = createMetadata(database);
  const auth = testAuthServices(database, metadata);
  const counter = { reads: 0 };
  const apps: FastifyInstance[] = [];
  const clients: Client[] = [];
  const stores: BlobStore[] = [];
  for (let i = 0; i < count; i += 1) {
    const blobs = countingStore(new LocalBlobStore(path.join(dir, 'storage')), counter);
    const app = await createApp({
      metadata,
      blobs,
      auth,
      access: openAccess(metadata),
      logger: false,
      options: { maxManifestBytes: 4 << 20, referrersApi: true, uploadExpiryMs: 24 * 3600_000, ...options },
    });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    apps.push(app);
    stores.push(blobs);
    clients.push(new Client(address));
  }
  return {
    apps,
    clients,
    stores,
    metadata,
    reads: () => counter.reads,
    async close() {
      for (const app of apps) await app.close();
      await auth.audit.close();
      await dropDatabase();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

for (const dialect of ['sqlite', 'postgres', 'mysql'] as Dialect[]) {
  describe(`upload lifecycle on ${dialect}`, () => {
    let registry: Awaited<ReturnType<typeof startTestRegistry>>;
    let client: Client;
    before(async () => {
      registry = await startTestRegistry({ dialect });
      client = new Client(registry.url);
    });
    after(async () => registry?.close());

    it('starts a session with Location, Range and Docker-Upload-UUID', async () => {
      const response = await fetch(client.url('/v2/life/start/blobs/uploads/'), { method: 'POST' });
      assert.equal(response.status, 202);
      const id = response.headers.get('docker-upload-uuid');
      assert.match(id ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(response.headers.get('location'), `/v2/life/start/blobs/uploads/${id}`);
      assert.equal(response.headers.get('range'), '0-0');
      assert.ok(await registry.metadata.repositories.getRepository('life/start'), 'POST creates the repository');
    });

    it('pushes a blob monolithically and serves it', async () => {
      const data = randomBytes(50_000);
      const response = await client.monolithic('life/mono', data);
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('location'), `/v2/life/mono/blobs/${sha256(data)}`);
      assert.equal(response.headers.get('docker-content-digest'), sha256(data));
      assert.deepEqual(await client.blob('life/mono', sha256(data)), data);
      assert.equal((await registry.metadata.blobs.getBlob(sha256(data)))?.size, data.length);
    });

    it('pushes in ordered chunks with Content-Range, reports progress, rejects out-of-order and overlapping chunks', async () => {
      const data = randomBytes(30_000);
      const location = await client.start('life/chunked');
      let response = await client.patch(location, data.subarray(0, 10_000), { 'content-range': '0-9999' });
      assert.equal(response.status, 202);
      assert.equal(response.headers.get('range'), '0-9999');
      assert.equal(response.headers.get('location'), location);

      response = await client.patch(location, data.subarray(20_000), { 'content-range': '20000-29999' });
      assert.equal(response.status, 416, 'a gap is refused');
      assert.equal(response.headers.get('range'), '0-9999');
      assert.equal(await errorCode(response), 'RANGE_INVALID');

      response = await client.patch(location, data.subarray(5_000, 15_000), { 'content-range': '5000-14999' });
      assert.equal(response.status, 416, 'an overlap is refused');
      assert.equal(response.headers.get('range'), '0-9999');
      await response.body?.cancel();

      response = await client.patch(location, data.subarray(10_000, 20_000), { 'content-range': '10000-19999' });
      assert.equal(response.status, 202);
      assert.equal(response.headers.get('range'), '0-19999');

      response = await client.status(location);
      assert.equal(response.status, 204);
      assert.equal(response.headers.get('range'), '0-19999');
      assert.equal(response.headers.get('docker-upload-uuid'), location.split('/').pop());

      assert.equal(await client.blob('life/chunked', sha256(data)), 404, 'nothing is visible before the PUT');
      response = await client.put(location, sha256(data), data.subarray(20_000));
      assert.equal(response.status, 201, await response.text());
      assert.equal(response.headers.get('docker-content-digest'), sha256(data));
      assert.deepEqual(await client.blob('life/chunked', sha256(data)), data);
      assert.equal((await client.status(location)).status, 404, 'the session is gone after completion');
    });

    it('refuses a wrong digest, cancels the upload and shows nothing', async () => {
      const data = randomBytes(4096);
      const wrong = sha256(Buffer.from('something else'));
      const location = await client.start('life/wrong');
      await (await client.patch(location, data)).body?.cancel();
      const response = await client.put(location, wrong);
      assert.equal(response.status, 400);
      assert.equal(await errorCode(response), 'DIGEST_INVALID');
      assert.equal(await client.blob('life/wrong', wrong), 404);
      assert.equal(await client.blob('life/wrong', sha256(data)), 404);
      assert.equal(await registry.metadata.blobs.getBlob(wrong), undefined);
      assert.equal((await client.status(location)).status, 404, 'the failed upload was cancelled');

      const mono = await client.monolithic('life/wrong', data, wrong);
      assert.equal(mono.status, 400);
      assert.equal(await errorCode(mono), 'DIGEST_INVALID');
      assert.equal(await client.blob('life/wrong', wrong), 404);
    });

    it('cancels an upload: row and temporary object are removed', async () => {
      const location = await client.start('life/cancel');
      await (await client.patch(location, randomBytes(100))).body?.cancel();
      const id = location.split('/').pop() as string;
      assert.equal(await registry.blobs.uploadSize(id), 100);
      const response = await fetch(client.url(location), { method: 'DELETE' });
      assert.equal(response.status, 204);
      assert.equal(await registry.metadata.uploads.getUpload(id), undefined);
      await assert.rejects(registry.blobs.uploadSize(id), { name: 'UploadNotFoundError' });
      const again = await fetch(client.url(location), { method: 'DELETE' });
      assert.equal(again.status, 404);
      assert.equal(await errorCode(again), 'BLOB_UPLOAD_UNKNOWN');
    });

    it('completes two sessions of the same blob at the same time', async () => {
      const data = randomBytes(200_000);
      const digest = sha256(data);
      const names = ['life/same-a', 'life/same-b', 'life/same-a'];
      const locations = await Promise.all(names.map((name) => client.start(name)));
      await Promise.all(locations.map(async (location) => (await client.patch(location, data)).body?.cancel()));
      const responses = await Promise.all(locations.map((location) => client.put(location, digest)));
      assert.deepEqual(responses.map((r) => r.status), [201, 201, 201]);
      const monos = await Promise.all([client.monolithic('life/same-c', data), client.monolithic('life/same-c', data)]);
      assert.deepEqual(monos.map((r) => r.status), [201, 201]);
      for (const name of ['life/same-a', 'life/same-b', 'life/same-c']) assert.deepEqual(await client.blob(name, digest), data);
    });

    it('mounts a blob from another repository, and falls back to a session when it cannot', async () => {
      const data = randomBytes(1000);
      const digest = sha256(data);
      assert.equal((await client.monolithic('life/mount-src', data)).status, 201);
      const mountUrl = client.url(`/v2/life/mount-dst/blobs/uploads/?mount=${digest}&from=life/mount-src`);
      let response = await fetch(mountUrl, { method: 'POST' });
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('location'), `/v2/life/mount-dst/blobs/${digest}`);
      assert.equal(response.headers.get('docker-content-digest'), digest);
      assert.deepEqual(await client.blob('life/mount-dst', digest), data);

      const other = sha256(randomBytes(10));
      for (const search of [
        `mount=${other}&from=life/mount-src`, // not in the source
        `mount=${digest}&from=life/nowhere`, // no such source repository
        `mount=${digest}&from=Bad..Name`, // invalid source name
        `mount=sha256:xyz&from=life/mount-src`, // invalid digest
        `mount=${digest}`, // no source
      ]) {
        response = await fetch(client.url(`/v2/life/mount-other/blobs/uploads/?${search}`), { method: 'POST' });
        assert.equal(response.status, 202, search);
        assert.match(response.headers.get('location') ?? '', /^\/v2\/life\/mount-other\/blobs\/uploads\/[0-9a-f-]{36}$/);
      }
      assert.equal(await client.blob('life/mount-other', digest), 404);

      const carried = randomBytes(300);
      const carriedDigest = sha256(carried);
      const query = `mount=${carriedDigest}&from=life/mount-src&digest=${carriedDigest}`;
      response = await fetch(client.url(`/v2/life/mount-other/blobs/uploads/?${query}`), {
        method: 'POST',
        body: new Uint8Array(carried),
      });
      assert.equal(response.status, 201, 'a failed mount carrying the blob is a monolithic upload');
      assert.deepEqual(await client.blob('life/mount-other', sha256(carried)), carried);
    });
  });
}

describe('uploads: bad input', () => {
  let registry: Awaited<ReturnType<typeof startTestRegistry>>;
  let client: Client;
  before(async () => {
    registry = await startTestRegistry();
    client = new Client(registry.url);
  });
  after(async () => registry?.close());

  it('refuses missing, malformed and non-sha256 digests', async () => {
    const location = await client.start('bad/digest');
    const sha512 = `sha512:${createHash('sha512').update('x').digest('hex')}`;
    const twice = `digest=${sha256(Buffer.from('a'))}&digest=${sha256(Buffer.from('b'))}`;
    for (const target of [location, `${location}?digest=nope`, `${location}?digest=${sha512}`, `${location}?${twice}`]) {
      const response = await fetch(client.url(target), { method: 'PUT' });
      assert.equal(response.status, 400, target);
      assert.equal(await errorCode(response), 'DIGEST_INVALID', target);
    }
    const response = await fetch(client.url(`/v2/bad/digest/blobs/uploads/?digest=sha256:1234`), { method: 'POST', body: 'x' });
    assert.equal(response.status, 400);
    assert.equal(await errorCode(response), 'DIGEST_INVALID');
    assert.equal((await client.status(location)).status, 204, 'a refused PUT leaves the session usable');
  });

  it('refuses bad Content-Range values with 416 and the current Range', async () => {
    const location = await client.start('bad/range');
    await (await client.patch(location, Buffer.alloc(10), { 'content-range': '0-9' })).body?.cancel();
    for (const [range, length] of [['abc', 5], ['15-10', 5], ['10-x', 5], ['10-14', 6], ['-10', 5], ['10-14/20', 5]] as const) {
      const response = await client.patch(location, Buffer.alloc(length), { 'content-range': range });
      assert.equal(response.status, 416, range);
      assert.equal(response.headers.get('range'), '0-9', range);
      assert.equal(await errorCode(response), 'RANGE_INVALID', range);
    }
    // A streamed chunk shorter than its Content-Range: nothing of it is kept.
    const short = await rawRequest(client.base, 'PATCH', location, [Buffer.alloc(3)], { 'content-range': '10-14' });
    assert.equal(short.status, 400);
    assert.equal((JSON.parse(short.body) as ErrorBody).errors[0]?.code, 'SIZE_INVALID');
    const long = await rawRequest(client.base, 'PATCH', location, [Buffer.alloc(9)], { 'content-range': '10-14' });
    assert.equal(long.status, 400);
    assert.equal((await client.status(location)).headers.get('range'), '0-9');
    assert.equal(await registry.blobs.uploadSize(location.split('/').pop() as string), 10);
  });

  it('answers BLOB_UPLOAD_UNKNOWN for unknown, malformed and foreign upload ids', async () => {
    const foreign = await client.start('bad/owner');
    const foreignId = foreign.split('/').pop() as string;
    const targets = [
      `/v2/bad/ids/blobs/uploads/${randomUUID()}`,
      '/v2/bad/ids/blobs/uploads/not-a-uuid',
      `/v2/bad/ids/blobs/uploads/${foreignId.toUpperCase()}`,
      `/v2/bad/ids/blobs/uploads/${foreignId}`,
      `/v2/no/such/repo/blobs/uploads/${foreignId}`,
    ];
    await client.start('bad/ids');
    for (const target of targets) {
      for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
        const query = method === 'PUT' ? `?digest=${sha256(Buffer.alloc(0))}` : '';
        const response = await fetch(client.url(target + query), { method, body: method === 'PATCH' ? 'abc' : undefined });
        assert.equal(response.status, 404, `${method} ${target}`);
        assert.equal(await errorCode(response), 'BLOB_UPLOAD_UNKNOWN', `${method} ${target}`);
      }
    }
    assert.equal((await client.status(foreign)).status, 204, 'the foreign upload is untouched');
  });

  it('refuses a body on a POST that only starts a session', async () => {
    const response = await fetch(client.url('/v2/bad/post/blobs/uploads/'), { method: 'POST', body: 'data' });
    assert.equal(response.status, 400);
    assert.equal(await errorCode(response), 'BLOB_UPLOAD_INVALID');
  });

  it('streams bodies sent without a Content-Type', async () => {
    const data = randomBytes(2000);
    const location = await client.start('bad/no-type');
    const patch = await rawRequest(client.base, 'PATCH', location, [data.subarray(0, 1000)], { 'content-type': undefined });
    assert.equal(patch.status, 202, patch.body);
    const put = await rawRequest(client.base, 'PUT', `${location}?digest=${sha256(data)}`, [data.subarray(1000)], {
      'content-type': undefined,
      'content-length': '1000',
    });
    assert.equal(put.status, 201, put.body);
    assert.deepEqual(await client.blob('bad/no-type', sha256(data)), data);
  });

  it('accepts an empty blob', async () => {
    const empty = Buffer.alloc(0);
    assert.equal((await client.monolithic('bad/empty', empty)).status, 201);
    const location = await client.start('bad/empty2');
    assert.equal((await client.put(location, sha256(empty))).status, 201);
    assert.deepEqual(await client.blob('bad/empty2', sha256(empty)), empty);
  });
});

describe('uploads: streaming, instances and limits', () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await startFleet(2, { maxLayerBytes: 300 << 20 });
  });
  after(async () => fleet?.close());

  it('appends a streamed PATCH without Content-Range and never re-reads what it streamed itself', async () => {
    const [client] = fleet.clients as [Client];
    const parts = [randomBytes(70_000), randomBytes(70_000), randomBytes(5)];
    const data = Buffer.concat(parts);
    const readsBefore = fleet.reads();
    const location = await client.start('stream/one');
    const response = await rawRequest(client.base, 'PATCH', location, parts.slice(0, 2));
    assert.equal(response.status, 202);
    assert.equal(response.headers.range, `0-${140_000 - 1}`);
    const put = await rawRequest(client.base, 'PUT', `${location}?digest=${sha256(data)}`, parts.slice(2));
    assert.equal(put.status, 201, put.body);
    assert.equal(fleet.reads(), readsBefore, 'no re-read from storage');
    assert.deepEqual(await client.blob('stream/one', sha256(data)), data);
  });

  it('never publishes a wrong blob when two instances race for the same chunk', async () => {
    const [a, b] = fleet.clients as [Client, Client];
    const location = await a.start('stream/race');
    const chunks = [randomBytes(1 << 20), randomBytes(1 << 20)];
    const responses = await Promise.all([a.patch(location, chunks[0] as Buffer), b.patch(location, chunks[1] as Buffer)]);
    const statuses = responses.map((r) => r.status).sort();
    assert.deepEqual(statuses, [202, 416], 'exactly one chunk is accepted');
    const winner = chunks[responses.findIndex((r) => r.status === 202)] as Buffer;
    for (const response of responses) await response.body?.cancel();
    const put = await a.put(location, sha256(winner));
    if (put.status === 201) {
      assert.deepEqual(await a.blob('stream/race', sha256(winner)), winner);
    } else {
      // Both appends reached storage before one lost the compare-and-set: cut back to the recorded size and
      // hashed from storage, the bytes are not the winner's, so the digest check refuses them.
      assert.equal(put.status, 400);
      assert.ok(['BLOB_UPLOAD_INVALID', 'DIGEST_INVALID'].includes((await errorCode(put)) ?? ''));
      assert.equal(await a.blob('stream/race', sha256(winner)), 404);
    }
  });

  it('leaves nothing visible when the client disconnects mid-upload, and the upload can go on', async () => {
    const [client] = fleet.clients as [Client];
    const store = fleet.stores[0] as BlobStore;
    const location = await client.start('stream/abort');
    const id = location.split('/').pop() as string;
    const first = randomBytes(1 << 20);
    const headers = { 'content-type': 'application/octet-stream' };
    const request = http.request(client.url(location), { method: 'PATCH', headers });
    request.on('error', () => undefined);
    request.write(first);
    await waitFor('the server to store part of the chunk', async () => (await store.uploadSize(id)) > 0);
    request.destroy();
    await waitFor('the partial chunk to be truncated', async () => (await store.uploadSize(id)) === 0);
    assert.equal((await fleet.metadata.uploads.getUpload(id))?.size, 0);
    assert.equal(await client.blob('stream/abort', sha256(first)), 404);
    assert.equal((await client.status(location)).headers.get('range'), '0-0');

    const data = randomBytes(3000);
    assert.equal((await client.patch(location, data, { 'content-range': '0-2999' })).status, 202);
    assert.equal((await client.put(location, sha256(data))).status, 201);
    assert.deepEqual(await client.blob('stream/abort', sha256(data)), data);
  });

  it('streams 256 MiB through the server without the heap growing with it', async (t) => {
    const [client] = fleet.clients as [Client];
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // 64 KiB parts: the client's own Readable.from buffers up to 16 of them.
    const chunk = randomBytes(64 << 10);
    const total = 256 * 16;
    const hash = createHash('sha256');
    async function* body(): AsyncGenerator<Buffer> {
      for (let i = 0; i < total; i += 1) {
        const part = Buffer.from(chunk);
        part.writeUInt32BE(i, 0);
        hash.update(part);
        yield part;
      }
    }
    const location = await client.start('stream/big');
    gc();
    // Live memory, sampled after a collection. Stream buffers live outside the V8 heap, so they are
    // watched too, or buffering the body would go unnoticed; their count lags behind the collector
    // (backing stores are freed on a background thread), hence the looser bound for them.
    const measure = () => {
      gc();
      const usage = process.memoryUsage();
      return { heap: usage.heapUsed, all: usage.heapUsed + usage.arrayBuffers };
    };
    const baseline = measure();
    const peak = { ...baseline };
    const sampler = setInterval(() => {
      const now = measure();
      peak.heap = Math.max(peak.heap, now.heap);
      peak.all = Math.max(peak.all, now.all);
    }, 250);
    try {
      const response = await rawRequest(client.base, 'PATCH', location, body());
      assert.equal(response.status, 202, response.body);
      assert.equal(response.headers.range, `0-${total * chunk.length - 1}`);
    } finally {
      clearInterval(sampler);
    }
    const mib = (bytes: number) => (bytes / (1 << 20)).toFixed(1);
    const heapGrowth = peak.heap - baseline.heap;
    const allGrowth = peak.all - baseline.all;
    t.diagnostic(`growth while streaming 256 MiB: heap ${mib(heapGrowth)} MiB, heap + buffers ${mib(allGrowth)} MiB`);
    assert.ok(heapGrowth < 48 * (1 << 20), `heap grew by ${mib(heapGrowth)} MiB`);
    assert.ok(allGrowth < 128 * (1 << 20), `heap and buffers grew by ${mib(allGrowth)} MiB`);
    const digest = `sha256:${hash.digest('hex')}`;
    const put = await client.put(location, digest);
    assert.equal(put.status, 201, await put.text());
    const head = await fetch(client.url(`/v2/stream/big/blobs/${digest}`), { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), String(total * chunk.length));
  });

  it('refuses to continue a non-empty upload whose row holds no digest state, and never guesses', async () => {
    const [client] = fleet.clients as [Client];
    const location = await client.start('stream/stateless');
    const id = location.split('/').pop() as string;
    const chunk = randomBytes(1000);
    assert.equal((await client.patch(location, chunk)).status, 202);
    // As a row written by a version that kept no state would be: the size without the state.
    assert.ok(await fleet.metadata.uploads.advanceUpload(id, 1000, 1000, null));
    const more = await client.patch(location, randomBytes(10));
    assert.equal(more.status, 400);
    assert.equal(await errorCode(more), 'BLOB_UPLOAD_INVALID');
    const put = await client.put(location, sha256(chunk));
    assert.equal(put.status, 400);
    assert.equal(await errorCode(put), 'BLOB_UPLOAD_INVALID');
    assert.equal(await client.blob('stream/stateless', sha256(chunk)), 404);
  });
});

describe('uploads: MAXIMUM_LAYER_SIZE', () => {
  let fleet: Fleet;
  const max = 64 * 1024;
  before(async () => {
    fleet = await startFleet(1, { maxLayerBytes: max });
  });
  after(async () => fleet?.close());

  it('refuses a monolithic upload over the limit', async () => {
    const [client] = fleet.clients as [Client];
    const data = randomBytes(max + 1);
    const response = await client.monolithic('limit/mono', data);
    assert.equal(response.status, 413);
    assert.equal(await errorCode(response), 'BLOB_TOO_LARGE');
    const target = `/v2/limit/mono/blobs/uploads/?digest=${sha256(data)}`;
    const streamed = await rawRequest(client.base, 'POST', target, [data.subarray(0, 1000), data.subarray(1000)]);
    assert.equal(streamed.status, 413);
    assert.equal(await client.blob('limit/mono', sha256(data)), 404);
    const exact = randomBytes(max);
    assert.equal((await client.monolithic('limit/mono', exact)).status, 201);
  });

  it('refuses chunks that take a session over the limit, keeping what was accepted', async () => {
    const [client] = fleet.clients as [Client];
    const location = await client.start('limit/chunks');
    const first = randomBytes(max - 100);
    assert.equal((await client.patch(location, first)).status, 202);
    const declared = await client.patch(location, randomBytes(101));
    assert.equal(declared.status, 413);
    assert.equal(await errorCode(declared), 'BLOB_TOO_LARGE');
    const streamed = await rawRequest(client.base, 'PATCH', location, [randomBytes(50), randomBytes(51)]);
    assert.equal(streamed.status, 413);
    const status = await client.status(location);
    assert.equal(status.headers.get('range'), `0-${max - 101}`);
    const last = randomBytes(100);
    const put = await client.put(location, sha256(Buffer.concat([first, last])), last);
    assert.equal(put.status, 201);
  });
});

for (const dialect of ['sqlite', 'postgres', 'mysql'] as Dialect[]) {
  describe(`uploads: chunks alternating between two instances on ${dialect}`, () => {
    let fleet: Fleet;
    before(async () => {
      fleet = await startFleet(2, {}, dialect);
    });
    after(async () => fleet?.close());

    it('continues the digest from the state in the row: right digest, nothing read back from storage', async () => {
      const [a, b] = fleet.clients as [Client, Client];
      // Odd sizes, so that chunk borders fall inside SHA-256's 64-byte blocks and the buffered tail must survive.
      const parts = [1, 63, 65, 100_003, 64, 70_001, 7].map((size) => randomBytes(size));
      const data = Buffer.concat(parts);
      const location = await a.start(`alternate/${dialect}`);
      const id = location.split('/').pop() as string;
      const reads = fleet.reads();
      let offset = 0;
      for (const [index, part] of parts.entries()) {
        const client = index % 2 === 0 ? a : b;
        const response = await client.patch(location, part, { 'content-range': `${offset}-${offset + part.length - 1}` });
        assert.equal(response.status, 202, await response.text());
        offset += part.length;
        const row = await fleet.metadata.uploads.getUpload(id);
        assert.equal(row?.size, offset);
        assert.ok(row?.hashState instanceof Uint8Array && row.hashState.length > 0, 'the state is saved with the size');
      }
      // The empty PUT lands on the instance that did not take the last chunk.
      const put = await b.put(location, sha256(data));
      assert.equal(put.status, 201, await put.text());
      assert.equal(fleet.reads(), reads, 'no instance read stored bytes to rebuild the digest');
      assert.deepEqual(await a.blob(`alternate/${dialect}`, sha256(data)), data);
      assert.equal(await fleet.metadata.uploads.getUpload(id), undefined);
    });

    it('refuses a wrong digest after alternating chunks and publishes nothing', async () => {
      const [a, b] = fleet.clients as [Client, Client];
      const parts = [randomBytes(5000), randomBytes(5000)];
      const location = await a.start(`alternate/${dialect}-wrong`);
      assert.equal((await a.patch(location, parts[0] as Buffer)).status, 202);
      assert.equal((await b.patch(location, parts[1] as Buffer)).status, 202);
      const wrong = sha256(Buffer.concat([parts[1] as Buffer, parts[0] as Buffer]));
      const put = await a.put(location, wrong);
      assert.equal(put.status, 400);
      assert.equal(await errorCode(put), 'DIGEST_INVALID');
      assert.equal(await a.blob(`alternate/${dialect}-wrong`, wrong), 404);
    });

    it('recovers from a crash between append and compare-and-set: the other instance cuts the bytes off and continues', async () => {
      const [a, b] = fleet.clients as [Client, Client];
      const parts = [randomBytes(10_001), randomBytes(20_002)];
      const data = Buffer.concat(parts);
      const location = await a.start(`alternate/${dialect}-crash`);
      const id = location.split('/').pop() as string;
      assert.equal((await a.patch(location, parts[0] as Buffer)).status, 202);
      const stateBefore = (await fleet.metadata.uploads.getUpload(id))?.hashState;
      // What a kill after the append and before the compare-and-set leaves: bytes the row does not record.
      await (fleet.stores[0] as BlobStore).appendUpload(id, 10_001, Readable.from([randomBytes(5000)]));
      assert.deepEqual((await fleet.metadata.uploads.getUpload(id))?.hashState, stateBefore, 'the row kept its size and state');
      const resumed = await b.patch(location, parts[1] as Buffer, { 'content-range': `10001-${data.length - 1}` });
      assert.equal(resumed.status, 202, await resumed.text());
      const put = await a.put(location, sha256(data));
      assert.equal(put.status, 201, await put.text());
      assert.deepEqual(await b.blob(`alternate/${dialect}-crash`, sha256(data)), data);
    });

    it('finishes with a body on the other instance (PUT with the last chunk)', async () => {
      const [a, b] = fleet.clients as [Client, Client];
      const parts = [randomBytes(3333), randomBytes(4444), randomBytes(5555)];
      const data = Buffer.concat(parts);
      const location = await a.start(`alternate/${dialect}-put`);
      assert.equal((await a.patch(location, parts[0] as Buffer)).status, 202);
      assert.equal((await b.patch(location, parts[1] as Buffer)).status, 202);
      const put = await a.put(location, sha256(data), parts[2]);
      assert.equal(put.status, 201, await put.text());
      assert.deepEqual(await b.blob(`alternate/${dialect}-put`, sha256(data)), data);
    });
  });
}
