import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  AbortMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListPartsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { UploadOffsetError, type BlobStore } from '../../src/storage/blob-store.js';
import type { StorageDriverContext } from '../../src/storage/driver.js';
import { StorageFaultError } from '../../src/storage/faults.js';
import { googleCloudStorageDriver, radosGwStorageDriver, s3StorageDriver } from '../../src/storage/s3/drivers.js';
import type { S3StoreOptions } from '../../src/storage/s3/options.js';
import { googleCloudStorageOptions, GCS_ENDPOINT, s3StorageOptions } from '../../src/storage/s3/params.js';
import { MiB } from '../../src/storage/s3/parts.js';
import { S3BlobStore } from '../../src/storage/s3/store.js';
import { collect, pattern, runBlobStoreConformance, sha256 } from './conformance.js';
import { startTempauthS3Proxy, type TempauthS3Proxy } from './s3-tempauth-proxy.js';
import { objectStorage, randomName, type ObjectStorageServers } from '../helpers/object-storage/index.js';

/**
 * The S3 family against a real S3 API: Swift's s3api middleware on the test object-storage server
 * (test/helpers/object-storage). Every store gets its own storage_path in this file's own bucket, so the
 * checks of what is left in the bucket see only that store's keys.
 */

interface S3Endpoint {
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
}

const run = promisify(execFile);
let server: S3Endpoint;
let admin: S3Client;
let proxies: ObjectStorageServers;
const bucket = randomName('quayside-s3');

function context(location = 'test'): StorageDriverContext {
  return { location, extraCa: [], now: Date.now };
}

let tempauthProxy: TempauthS3Proxy | undefined;

function s3Client(endpoint: S3Endpoint): S3Client {
  return new S3Client({
    endpoint: endpoint.endpoint,
    region: endpoint.region,
    forcePathStyle: true,
    credentials: { accessKeyId: endpoint.accessKey, secretAccessKey: endpoint.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

before(async () => {
  proxies = await objectStorage();
  tempauthProxy = await startTempauthS3Proxy(proxies);
  server = { endpoint: tempauthProxy.endpoint, region: proxies.s3.region, accessKey: tempauthProxy.accessKeyId, secretKey: tempauthProxy.secretAccessKey };
  admin = s3Client(server);
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
});

after(async () => {
  if (admin !== undefined) {
    await emptyPrefix('');
    await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
    admin.destroy();
  }
  await tempauthProxy?.stop();
});

/** Keys under a prefix of this file's bucket. */
async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await admin.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, ...(marker === undefined ? {} : { Marker: marker }) }));
    keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
    if (page.IsTruncated !== true || keys.length === 0) return keys;
    marker = keys.at(-1);
  }
}

/** Multipart uploads (key and id) under a prefix. */
async function multipartsUnder(prefix: string): Promise<{ key: string; id: string }[]> {
  const page = await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return (page.Uploads ?? []).map((upload) => ({ key: upload.Key ?? '', id: upload.UploadId ?? '' }));
}

async function emptyPrefix(prefix: string): Promise<void> {
  for (const { key, id } of await multipartsUnder(prefix)) {
    await admin.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
  }
  for (const key of await keysUnder(prefix)) await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

function s3Params(storagePath: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    s3_bucket: bucket,
    storage_path: storagePath,
    s3_access_key: server.accessKey,
    s3_secret_key: server.secretKey,
    s3_region: server.region,
    endpoint_url: server.endpoint,
    ...extra,
  };
}

function s3Store(storagePath: string, extra: Record<string, unknown> = {}): BlobStore {
  return s3StorageDriver.create(s3StorageDriver.params.parse(s3Params(storagePath, extra)), context());
}

/** An S3 store with options the Quay parameters cannot express (short timeouts, a low copy threshold). */
function storeWith(storagePath: string, change: Partial<S3StoreOptions>): S3BlobStore {
  const options = s3StorageOptions(s3StorageDriver.params.parse(s3Params(storagePath)));
  return new S3BlobStore({ ...options, ...change }, context());
}

function body(data: Buffer, piece = 256 * 1024): Readable {
  return Readable.from((function* () { for (let i = 0; i < data.length; i += piece) yield data.subarray(i, i + piece); })());
}

/** Appends `chunks` in order and returns the upload id. */
async function uploadChunks(store: BlobStore, chunks: Buffer[]): Promise<string> {
  const id = randomUUID();
  await store.startUpload(id);
  let offset = 0;
  for (const chunk of chunks) offset = await store.appendUpload(id, offset, body(chunk));
  return id;
}

async function withPrefix(body: (prefix: string) => Promise<void>): Promise<void> {
  const prefix = `t-${randomUUID()}`;
  try {
    await body(prefix);
  } finally {
    await emptyPrefix(`${prefix}/`);
  }
}

/** A CA and a certificate it signed for 127.0.0.1, made with openssl in `dir`. */
async function makeCertificates(dir: string): Promise<{ ca: string; key: string; cert: string }> {
  const at = (name: string) => path.join(dir, name);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '1', '-subj', '/CN=quayside test CA']);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', '/CN=127.0.0.1']);
  await writeFile(at('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  await run('openssl', ['x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial', '-out', at('server.pem'), '-days', '1', '-extfile', at('san.ext')]);
  const [ca, key, cert] = await Promise.all(['ca.pem', 'server.key', 'server.pem'].map((name) => readFile(at(name), 'utf8')));
  return { ca: ca as string, key: key as string, cert: cert as string };
}

runBlobStoreConformance('S3Storage on s3api', async () => {
  const prefix = `conformance-s3-${randomUUID()}`;
  return { store: s3Store(`/${prefix}`), cleanup: () => emptyPrefix(`${prefix}/`) };
});

runBlobStoreConformance('RadosGWStorage on s3api', async () => {
  const prefix = `conformance-rgw-${randomUUID()}`;
  const url = new URL(server.endpoint);
  const params = radosGwStorageDriver.params.parse({
    hostname: url.hostname,
    port: Number(url.port),
    is_secure: url.protocol === 'https:',
    access_key: server.accessKey,
    secret_key: server.secretKey,
    bucket_name: bucket,
    storage_path: prefix,
    region_name: server.region,
  });
  return { store: radosGwStorageDriver.create(params, context()), cleanup: () => emptyPrefix(`${prefix}/`) };
});

describe('S3 driver on a real S3 API', { timeout: 180_000 }, () => {
  test('GoogleCloudStorage: GCS endpoint and HMAC keys; its S3 path (one CopyObject per commit) works', () =>
    withPrefix(async (prefix) => {
      const params = googleCloudStorageDriver.params.parse({
        access_key: server.accessKey,
        secret_key: server.secretKey,
        bucket_name: bucket,
        storage_path: `/${prefix}`,
        minimum_chunk_size_mb: 5,
      });
      const options = googleCloudStorageOptions(params);
      assert.equal(options.endpoint, GCS_ENDPOINT);
      assert.equal(options.multipartCopy, false);
      // The only change for the test: the s3api endpoint (and its region) in place of GCS's.
      const store = new S3BlobStore({ ...options, endpoint: server.endpoint, region: server.region }, context('gcs'));
      try {
        const data = pattern(12 * MiB + 17, 61);
        const id = await uploadChunks(store, [data.subarray(0, 3 * MiB), data.subarray(3 * MiB)]);
        assert.equal(await store.uploadSize(id), data.length);
        await store.commitUpload(id, sha256(data));
        assert.deepEqual(await collect(await store.read(sha256(data))), data);
        assert.equal(store.kind, 'gcs');
        await store.ping();
      } finally {
        await store.close();
      }
    }));

  // Keystone answers slowly on a busy machine (seconds per S3 request): one ping proves the EC2 credentials.
  test("Keystone EC2 credentials through s3token (the shared endpoint): ping writes and reads _verify", async () => {
    const keystone: S3Endpoint = { endpoint: proxies.s3.endpoint, region: proxies.s3.region, accessKey: proxies.s3.accessKeyId, secretKey: proxies.s3.secretAccessKey };
    const keystoneAdmin = s3Client(keystone);
    const keystoneBucket = randomName('quayside-s3-ks');
    await keystoneAdmin.send(new CreateBucketCommand({ Bucket: keystoneBucket }));
    const store = s3StorageDriver.create(
      s3StorageDriver.params.parse({
        s3_bucket: keystoneBucket,
        storage_path: '/registry',
        s3_access_key: keystone.accessKey,
        s3_secret_key: keystone.secretKey,
        s3_region: keystone.region,
        endpoint_url: keystone.endpoint,
      }),
      context('keystone'),
    );
    try {
      await store.ping();
      const marker = await keystoneAdmin.send(new GetObjectCommand({ Bucket: keystoneBucket, Key: 'registry/_verify' }));
      assert.equal(await marker.Body?.transformToString(), 'testing 123');
    } finally {
      await store.close?.();
      const listed = await keystoneAdmin.send(new ListObjectsCommand({ Bucket: keystoneBucket }));
      for (const object of listed.Contents ?? []) await keystoneAdmin.send(new DeleteObjectCommand({ Bucket: keystoneBucket, Key: object.Key }));
      await keystoneAdmin.send(new DeleteBucketCommand({ Bucket: keystoneBucket }));
      keystoneAdmin.destroy();
    }
  });

  test('a chunk under 5 MiB followed by more chunks: parts stay >= 5 MiB and the blob is byte for byte', () =>
    withPrefix(async (prefix) => {
      const store = s3Store(`/${prefix}`);
      try {
        const sizes = [1 * MiB, 7 * MiB + 3, 100, 3 * MiB, 9 * MiB, 1];
        const data = pattern(sizes.reduce((a, b) => a + b, 0), 62);
        const chunks: Buffer[] = [];
        let at = 0;
        for (const size of sizes) {
          chunks.push(data.subarray(at, at + size));
          at += size;
        }
        const id = await uploadChunks(store, chunks);
        assert.equal(await store.uploadSize(id), data.length);
        const [multipart] = await multipartsUnder(`${prefix}/uploads/${id}/`);
        assert.ok(multipart !== undefined, 'the upload has a multipart upload');
        const parts = (await admin.send(new ListPartsCommand({ Bucket: bucket, Key: multipart.key, UploadId: multipart.id }))).Parts ?? [];
        assert.ok(parts.length >= 2, `${parts.length} parts`);
        for (const part of parts) assert.ok((part.Size ?? 0) >= 5 * MiB, `part ${part.PartNumber}: ${part.Size} bytes`);
        await store.commitUpload(id, sha256(data));
        assert.deepEqual(await collect(await store.read(sha256(data))), data);
        assert.deepEqual(await keysUnder(`${prefix}/uploads/`), [], 'the commit left no upload objects');
        assert.deepEqual(await multipartsUnder(`${prefix}/`), [], 'the commit left no multipart uploads');
      } finally {
        await store.close?.();
      }
    }));

  test('a chunked push allocates two part buffers in all: each append takes those the one before gave back', () =>
    withPrefix(async (prefix) => {
      const store = storeWith(`/${prefix}`, { partBytes: 5 * MiB });
      try {
        // Chunks of three parts and a bit: the bit is staged as the tail and begins the next append's first part.
        const data = pattern(4 * (15 * MiB + 1000), 64);
        const step = 15 * MiB + 1000;
        const chunks = Array.from({ length: 4 }, (_, i) => data.subarray(i * step, (i + 1) * step));
        const id = await uploadChunks(store, chunks);
        assert.deepEqual(store.partBuffers.stats(), { outstanding: 0, mostOutstanding: 2, allocations: 2, free: 2 });
        await store.commitUpload(id, sha256(data));
        assert.deepEqual(await collect(await store.read(sha256(data))), data);
      } finally {
        await store.close?.();
      }
    }));

  test('chunks alternating between two instances make one blob (the state lives in the bucket)', () =>
    withPrefix(async (prefix) => {
      const [a, b] = [s3Store(`/${prefix}`), s3Store(`/${prefix}`)];
      try {
        const data = pattern(22 * MiB + 5, 63);
        const id = randomUUID();
        await a.startUpload(id);
        let offset = 0;
        const step = 6 * MiB + 11;
        for (let i = 0; offset < data.length; i += 1) {
          const store = i % 2 === 0 ? a : b;
          offset = await store.appendUpload(id, offset, body(data.subarray(offset, offset + step)));
        }
        assert.equal(await b.uploadSize(id), data.length);
        await b.commitUpload(id, sha256(data));
        assert.deepEqual(await collect(await a.read(sha256(data))), data);
      } finally {
        await a.close?.();
        await b.close?.();
      }
    }));

  test('an append that fails after uploading parts leaves the size; the next append and the commit are exact', () =>
    withPrefix(async (prefix) => {
      const store = s3Store(`/${prefix}`);
      try {
        const first = pattern(6 * MiB, 64);
        const id = await uploadChunks(store, [first]);
        const failing = Readable.from((async function* () {
          yield pattern(20 * MiB, 65);
          throw new Error('client went away');
        })());
        await assert.rejects(store.appendUpload(id, first.length, failing), /client went away/);
        assert.equal(await store.uploadSize(id), first.length);
        const rest = pattern(9 * MiB + 1, 66);
        assert.equal(await store.appendUpload(id, first.length, body(rest)), first.length + rest.length);
        const data = Buffer.concat([first, rest]);
        await store.commitUpload(id, sha256(data));
        assert.deepEqual(await collect(await store.read(sha256(data))), data);
      } finally {
        await store.close?.();
      }
    }));

  test('truncateUpload steps back over a whole append that went into parts, and refuses a cut inside a part', () =>
    withPrefix(async (prefix) => {
      const store = s3Store(`/${prefix}`);
      try {
        const first = pattern(3 * MiB, 67);
        const second = pattern(10 * MiB, 68);
        const id = await uploadChunks(store, [first, second]);
        await assert.rejects(store.truncateUpload(id, 2 * MiB), UploadOffsetError);
        await store.truncateUpload(id, first.length);
        assert.equal(await store.uploadSize(id), first.length);
        const again = pattern(8 * MiB + 9, 69);
        assert.equal(await store.appendUpload(id, first.length, body(again)), first.length + again.length);
        const data = Buffer.concat([first, again]);
        await store.commitUpload(id, sha256(data));
        assert.deepEqual(await collect(await store.read(sha256(data))), data);
      } finally {
        await store.close?.();
      }
    }));

  test('abort leaves nothing: no objects under uploads/, no multipart uploads', () =>
    withPrefix(async (prefix) => {
      const store = s3Store(`/${prefix}`);
      try {
        const id = await uploadChunks(store, [pattern(12 * MiB + 7, 70), pattern(1000, 71)]);
        assert.notDeepEqual(await keysUnder(`${prefix}/uploads/${id}/`), []);
        assert.equal((await multipartsUnder(`${prefix}/`)).length, 1);
        await store.abortUpload(id);
        assert.deepEqual(await keysUnder(`${prefix}/`), []);
        assert.deepEqual(await multipartsUnder(`${prefix}/`), []);
      } finally {
        await store.close?.();
      }
    }));

  test('a commit above the single-copy limit copies server-side in ranges (UploadPartCopy)', () =>
    withPrefix(async (prefix) => {
      // The threshold is lowered from 5 GiB so that the multipart copy runs on a blob of a few MiB.
      const store = storeWith(`/${prefix}`, { singleCopyLimitBytes: 6 * MiB, maxCopyPartBytes: 5 * MiB });
      try {
        const data = pattern(16 * MiB + 3, 72);
        const id = await uploadChunks(store, [data]);
        await store.commitUpload(id, sha256(data));
        assert.deepEqual(await store.stat(sha256(data)), { size: data.length });
        assert.deepEqual(await collect(await store.read(sha256(data))), data);
        assert.deepEqual(await multipartsUnder(`${prefix}/`), []);
      } finally {
        await store.close();
      }
    }));

  test('redirectUrl is a presigned GET: it fetches the blob, and is refused when tampered with or expired', () =>
    withPrefix(async (prefix) => {
      const store = s3Store(`/${prefix}`);
      const data = pattern(70_000, 73);
      const digest = sha256(data);
      try {
        await store.commitUpload(await uploadChunks(store, [data]), digest);
        const url = await store.redirectUrl?.(digest);
        assert.ok(url !== undefined);
        const fetched = await fetch(url);
        assert.equal(fetched.status, 200);
        assert.deepEqual(Buffer.from(await fetched.arrayBuffer()), data);
        const ranged = await fetch(url, { headers: { range: 'bytes=10-19' } });
        assert.equal(ranged.status, 206);
        assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), data.subarray(10, 20));
        const parsed = new URL(url);
        assert.equal(parsed.searchParams.get('X-Amz-Expires'), '600');
        const signature = parsed.searchParams.get('X-Amz-Signature') ?? '';
        parsed.searchParams.set('X-Amz-Signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`);
        assert.equal((await fetch(parsed)).status, 403, 'a tampered signature is refused');
        const other = new URL(url);
        other.pathname = other.pathname.replace(/[0-9a-f]{64}$/, 'f'.repeat(64));
        assert.equal((await fetch(other)).status, 403, 'another key under the same signature is refused');
      } finally {
        await store.close?.();
      }
      // Signed two hours ago for ten minutes: expired.
      const past = s3StorageDriver.create(s3StorageDriver.params.parse(s3Params(`/${prefix}`)), { ...context(), now: () => Date.now() - 2 * 3600_000 });
      try {
        const expired = await past.redirectUrl?.(digest);
        assert.ok(expired !== undefined);
        assert.equal((await fetch(expired)).status, 403, 'an expired URL is refused');
      } finally {
        await past.close?.();
      }
    }));

  test('ping writes <storage_path>/_verify with "testing 123"', () =>
    withPrefix(async (prefix) => {
      const store = s3Store(`/${prefix}/`);
      try {
        await store.ping();
        const marker = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/_verify` }));
        assert.equal(await marker.Body?.transformToString(), 'testing 123');
      } finally {
        await store.close?.();
      }
    }));

  test('wrong credentials are a permission-denied storage fault', async () => {
    const store = s3Store('/denied', { s3_secret_key: 'not-the-secret' });
    try {
      const error = await store.ping().then(() => assert.fail('ping with a wrong key succeeded'), (e: unknown) => e);
      assert.ok(error instanceof StorageFaultError, String(error));
      assert.equal(error.kind, 'permission-denied');
      assert.match(error.message, /bucket/);
    } finally {
      await store.close?.();
    }
  });

  test('an unreachable endpoint (refused, or accepting and never answering) is unavailable, after retries', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const refusedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer();
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    try {
      const silentPort = (silent.address() as net.AddressInfo).port;
      for (const port of [refusedPort, silentPort]) {
        const store = storeWith('/unreachable', {
          endpoint: `http://127.0.0.1:${port}`,
          connectTimeoutMs: 300,
          requestTimeoutMs: 300,
          maxAttempts: 2,
        });
        try {
          for (const operation of [() => store.ping(), () => store.stat(sha256(Buffer.from('x'))), () => store.uploadSize('u1')]) {
            const error = await operation().then(() => assert.fail('succeeded'), (e: unknown) => e);
            assert.ok(error instanceof StorageFaultError, `port ${port}: ${String(error)}`);
            assert.equal(error.kind, 'unavailable');
            assert.equal(error.publicMessage, 'the storage is unavailable; retry later');
          }
        } finally {
          await store.close();
        }
      }
    } finally {
      silent.close();
    }
  });

  test('an outage of the endpoint is unavailable, and the same store works again when it is back', async () => {
    const proxy = await proxies.startPrivateProxy();
    // Generous timeouts: this proxy asks Keystone about every S3 request (seconds each on a busy machine).
    const store = storeWith('/outage', { endpoint: proxy.url, connectTimeoutMs: 5000, requestTimeoutMs: 30_000, maxAttempts: 2 });
    try {
      await store.ping();
      await proxy.stop();
      const error = await store.ping().then(() => assert.fail('ping succeeded with the proxy stopped'), (e: unknown) => e);
      assert.ok(error instanceof StorageFaultError, String(error));
      assert.equal(error.kind, 'unavailable');
      await proxy.start();
      await store.ping();
    } finally {
      await store.close();
      if (proxy.running()) await proxy.stop();
      await emptyPrefix('outage/');
    }
  });

  test("TLS to the endpoint trusts the context's extra CAs, and only them besides the system's", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'quayside-s3-tls-'));
    const upstream = new URL(server.endpoint);
    try {
      const { ca, key, cert } = await makeCertificates(dir);
      // A TLS terminator in front of the s3api endpoint: the bytes (and so the signed Host header) pass as they are.
      const terminator = tls.createServer({ key, cert }, (socket) => {
        const backend = net.connect(Number(upstream.port), upstream.hostname);
        socket.pipe(backend).pipe(socket);
        socket.on('error', () => backend.destroy());
        backend.on('error', () => socket.destroy());
      });
      await new Promise<void>((resolve) => terminator.listen(0, '127.0.0.1', resolve));
      const endpoint = `https://127.0.0.1:${(terminator.address() as net.AddressInfo).port}`;
      const params = s3StorageDriver.params.parse(s3Params('/tls', { endpoint_url: endpoint }));
      const trusting = s3StorageDriver.create(params, { ...context(), extraCa: [ca] });
      const distrusting = s3StorageDriver.create(params, context());
      try {
        await trusting.ping();
        const error = await distrusting.ping().then(() => assert.fail('a certificate of an unknown CA was accepted'), (e: unknown) => e);
        assert.ok(error instanceof StorageFaultError, String(error));
        assert.equal(error.kind, 'unavailable');
      } finally {
        await trusting.close?.();
        await distrusting.close?.();
        terminator.close();
      }
    } finally {
      await emptyPrefix('tls/');
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a 256 MiB push, commit and pull through the driver peak under 150 MB RSS (in a fresh process)', () =>
    withPrefix(async (prefix) => {
      const probe = fileURLToPath(new URL('./s3-memory-probe.js', import.meta.url));
      const { stdout } = await run(process.execPath, [probe, JSON.stringify(s3Params(`/${prefix}`)), '256'], { maxBuffer: 1024 * 1024 });
      const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { size: number; appended: number; sameDigest: boolean; peakRss: number };
      assert.equal(result.appended, 256 * MiB);
      assert.equal(result.sameDigest, true, 'the pulled blob has the pushed digest');
      assert.ok(result.peakRss < 150 * MiB, `peak RSS ${(result.peakRss / MiB).toFixed(0)} MiB`);
    }));
});
