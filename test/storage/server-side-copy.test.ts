// copyBlobFrom, the drivers' server-side copy for geo-replication, against the real Swift clusters of
// test/helpers/object-storage: Swift to Swift in one account (plain objects and SLOs, nested ones too, whose
// copies own their segments), S3 to S3 through s3api (CopyObject and UploadPartCopy), and every pair that
// cannot copy server-side resolving false (other account, other cluster, other service, other credentials).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobNotFoundError, type BlobStore } from '../../src/storage/blob-store.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { s3StorageDriver } from '../../src/storage/s3/drivers.js';
import type { S3StoreOptions } from '../../src/storage/s3/options.js';
import { s3StorageOptions } from '../../src/storage/s3/params.js';
import { MiB } from '../../src/storage/s3/parts.js';
import { sameS3Service } from '../../src/storage/s3/same-service.js';
import { S3BlobStore } from '../../src/storage/s3/store.js';
import { createSwiftStore, type SwiftDriverTuning } from '../../src/storage/swift/driver.js';
import { swiftParamsSchema } from '../../src/storage/swift/params.js';
import { objectStorage, randomName, secondSwift, v1Auth, type ObjectStorageServers, type SecondSwiftServers } from '../helpers/object-storage/index.js';
import { collect, pattern, sha256 } from './conformance.js';

const KiB = 1024;
const SLOW = { timeout: 180_000 };
const context = { location: 'test', extraCa: [], now: Date.now };

let first: ObjectStorageServers;
let second: SecondSwiftServers;
const stores: BlobStore[] = [];

before(async () => {
  [first, second] = await Promise.all([objectStorage(), secondSwift()]);
});

after(async () => {
  await Promise.all(stores.map((store) => store.close?.()));
});

/** A v1 (tempauth) Swift store on a cluster, in its own container unless one is given. */
function swiftStore(cluster: { v1: { authUrl: string; user: string; key: string } }, container = randomName('copy'), tuning: Partial<SwiftDriverTuning> = {}): BlobStore {
  const params = swiftParamsSchema.parse({
    auth_url: cluster.v1.authUrl,
    auth_version: 1,
    swift_user: cluster.v1.user,
    swift_password: cluster.v1.key,
    swift_container: container,
    storage_path: '/registry',
  });
  const store = createSwiftStore(params, context, tuning);
  stores.push(store);
  return store;
}

/** Commits `data` to `store` through the upload path, in appends of `piece` bytes; resolves with its digest. */
async function commit(store: BlobStore, data: Buffer, piece = data.length): Promise<string> {
  const id = randomUUID();
  await store.startUpload(id);
  let offset = 0;
  for (let start = 0; start < data.length || start === 0; start += piece) {
    offset = await store.appendUpload(id, offset, Readable.from([data.subarray(start, start + piece)]));
    if (data.length === 0) break;
  }
  const digest = sha256(data);
  await store.commitUpload(id, digest);
  return digest;
}

/** Object names in a container, straight from Swift. */
async function containerObjects(storageUrl: string, token: string, container: string): Promise<string[]> {
  const response = await fetch(`${storageUrl}/${container}?format=json`, { headers: { 'x-auth-token': token } });
  if (response.status === 404) return [];
  const text = await response.text();
  return text === '' ? [] : (JSON.parse(text) as { name: string }[]).map((entry) => entry.name);
}

describe('Swift server-side copy', () => {
  test('a plain object is copied server-side within one account, and stays when the source goes', SLOW, async () => {
    const source = swiftStore(first);
    const target = swiftStore(first);
    const data = pattern(300 * KiB, 3);
    const digest = await commit(source, data);
    assert.equal(await target.copyBlobFrom?.(source, digest), true);
    assert.deepEqual(await target.stat(digest), { size: data.length });
    await source.delete(digest);
    assert.ok((await collect(await target.read(digest))).equals(data), 'the copy reads back byte for byte without its source');
    assert.equal(await target.copyBlobFrom?.(source, digest), true, 'a blob the target holds already is a success (the source is not read)');
  });

  test('an SLO (nested manifests) is copied segment by segment: the copy owns its segments', SLOW, async () => {
    const sourceContainer = randomName('copy-slo-src');
    const targetContainer = randomName('copy-slo-dst');
    // 64 KiB segments and manifests of 2 entries: 5 segments make a two-level nested SLO.
    const tuning = { segmentSizeBytes: 64 * KiB, maxManifestSegments: 2 };
    const source = swiftStore(first, sourceContainer, tuning);
    const target = swiftStore(first, targetContainer, tuning);
    const data = pattern(5 * 64 * KiB - 1000, 7);
    const digest = await commit(source, data, 100 * KiB);
    const { storageUrl, token } = await v1Auth(first.v1.authUrl, first.v1.user, first.v1.key);
    const head = await fetch(`${storageUrl}/${sourceContainer}/registry/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`, { method: 'HEAD', headers: { 'x-auth-token': token } });
    assert.equal(head.headers.get('x-static-large-object'), 'True', 'the source blob is an SLO');

    assert.equal(await target.copyBlobFrom?.(source, digest), true);
    const copied = await containerObjects(storageUrl, token, targetContainer);
    assert.ok(copied.filter((name) => /\/segments\/replica-[0-9a-f]{16}-[0-9a-f]{12}\/\d{16}$/.test(name)).length >= 5, `the target has its own segments: ${copied.join(', ')}`);
    // The source location's GC removes the blob with its segments: the copy must not depend on them.
    await source.delete(digest);
    assert.deepEqual(await containerObjects(storageUrl, token, sourceContainer).then((names) => names.filter((name) => name.includes('/segments/'))), []);
    const read = await collect(await target.read(digest));
    assert.equal(sha256(read), digest, 'the copy reads back byte for byte');
    assert.ok((await collect(await target.read(digest, { start: 64 * KiB - 10, end: 3 * 64 * KiB + 10 }))).equals(data.subarray(64 * KiB - 10, 3 * 64 * KiB + 11)), 'ranges across segments');
    // Deleting the copy takes its segments with it: nothing is left but the store's own markers.
    await target.delete(digest);
    assert.deepEqual((await containerObjects(storageUrl, token, targetContainer)).filter((name) => name.includes('/segments/') || name.includes('/sha256/')), []);
  });

  test('an absent source blob rejects with BlobNotFoundError', SLOW, async () => {
    const source = swiftStore(first);
    const target = swiftStore(first);
    await source.ping();
    const digest = sha256(Buffer.from(randomUUID()));
    await assert.rejects(() => target.copyBlobFrom?.(source, digest) ?? Promise.resolve(), BlobNotFoundError);
  });

  test('pairs that cannot copy server-side resolve false and leave the target untouched', SLOW, async () => {
    const source = swiftStore(first);
    const data = pattern(10 * KiB, 9);
    const digest = await commit(source, data);
    const root = await mkdtemp(join(tmpdir(), 'quayside-copy-'));
    try {
      const otherCluster = swiftStore(second);
      const keystoneAccount = createSwiftStore(
        swiftParamsSchema.parse({
          auth_url: first.keystone.authUrl,
          auth_version: 3,
          swift_user: first.keystone.username,
          swift_password: first.keystone.password,
          swift_container: randomName('copy-ks'),
          storage_path: '/registry',
          os_options: { project_name: first.keystone.projectName, user_domain_name: 'Default', project_domain_name: 'Default', region_name: first.keystone.regionName },
        }),
        context,
      );
      stores.push(keystoneAccount);
      const local = new LocalBlobStore(root);
      assert.equal(await otherCluster.copyBlobFrom?.(source, digest), false, 'another Swift cluster');
      assert.equal(await keystoneAccount.copyBlobFrom?.(source, digest), false, 'another account of the same cluster');
      assert.equal(await otherCluster.copyBlobFrom?.(local, digest), false, 'another kind of store');
      assert.equal(await otherCluster.stat(digest), undefined);
      assert.equal(await keystoneAccount.stat(digest), undefined);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('S3 server-side copy', () => {
  let admin: S3Client;
  const buckets = [randomName('copy-a'), randomName('copy-b')];

  before(async () => {
    admin = new S3Client({
      endpoint: second.s3.endpoint,
      region: second.s3.region,
      forcePathStyle: true,
      credentials: second.s3.tempauth,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    for (const bucket of buckets) await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  after(() => admin?.destroy());

  function s3Store(endpoint: { endpoint: string; region: string; tempauth: { accessKeyId: string; secretAccessKey: string } }, bucket: string, change: Partial<S3StoreOptions> = {}): S3BlobStore {
    const params = s3StorageDriver.params.parse({
      s3_bucket: bucket,
      storage_path: `/t-${randomUUID()}`,
      s3_access_key: endpoint.tempauth.accessKeyId,
      s3_secret_key: endpoint.tempauth.secretAccessKey,
      s3_region: endpoint.region,
      endpoint_url: endpoint.endpoint,
    });
    const store = new S3BlobStore({ ...s3StorageOptions(params), ...change }, context);
    stores.push(store);
    return store;
  }

  test('between two buckets of one service: CopyObject', SLOW, async () => {
    const source = s3Store(second.s3, buckets[0] as string);
    const target = s3Store(second.s3, buckets[1] as string);
    const data = pattern(200 * KiB, 11);
    const digest = await commit(source, data);
    assert.equal(await target.copyBlobFrom(source, digest), true);
    await source.delete(digest);
    assert.ok((await collect(await target.read(digest))).equals(data));
  });

  test('above the single-copy limit: UploadPartCopy in ranges', SLOW, async () => {
    const source = s3Store(second.s3, buckets[0] as string);
    const target = s3Store(second.s3, buckets[1] as string, { singleCopyLimitBytes: 5 * MiB, maxCopyPartBytes: 5 * MiB });
    const data = pattern(11 * MiB + 123, 13);
    const digest = await commit(source, data, 6 * MiB);
    assert.equal(await target.copyBlobFrom(source, digest), true);
    assert.equal(sha256(await collect(await target.read(digest))), digest);
  });

  test('another endpoint, other credentials, another kind of store: false', SLOW, async () => {
    const source = s3Store(second.s3, buckets[0] as string);
    const digest = await commit(source, pattern(KiB, 17));
    const otherEndpoint = s3Store({ endpoint: first.v1.proxyUrl, region: first.s3.region, tempauth: first.s3.tempauth }, buckets[1] as string);
    assert.equal(await otherEndpoint.copyBlobFrom(source, digest), false);
    const otherKeys = s3Store({ ...second.s3, tempauth: { accessKeyId: 'test:other', secretAccessKey: 'other-key' } }, buckets[1] as string);
    assert.equal(await otherKeys.copyBlobFrom(source, digest), false);
    assert.equal(await otherKeys.copyBlobFrom(swiftStore(second), digest), false);
    await assert.rejects(() => s3Store(second.s3, buckets[1] as string).copyBlobFrom(source, sha256(Buffer.from('absent'))), BlobNotFoundError);
  });

  test('sameS3Service: endpoint (normalized) and credentials decide', () => {
    const base = s3StorageOptions(s3StorageDriver.params.parse({ s3_bucket: 'a', storage_path: '/x', s3_access_key: 'k', s3_secret_key: 's', endpoint_url: 'https://S3.example:9000/' }));
    assert.equal(sameS3Service(base, { ...base, bucket: 'b' }), true);
    assert.equal(sameS3Service(base, { ...base, endpoint: 'https://s3.example:9000' }), true, 'host case and trailing slash');
    assert.equal(sameS3Service(base, { ...base, endpoint: 'https://s3.example:9001' }), false);
    assert.equal(sameS3Service(base, { ...base, credentials: { accessKeyId: 'k', secretAccessKey: 'other' } }), false);
    assert.equal(sameS3Service(base, { ...base, credentials: undefined }), false);
    const aws = { ...base, endpoint: undefined, credentials: undefined };
    assert.equal(sameS3Service(aws, { ...aws, region: 'eu-west-1' }), true, 'AWS copies across regions with the same credential chain');
    assert.equal(sameS3Service(base, { ...base, kind: 'gcs' }), false);
  });
});
