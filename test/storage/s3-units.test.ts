import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { StorageFaultError } from '../../src/storage/faults.js';
import { s3ClientConfig } from '../../src/storage/s3/client.js';
import { s3FamilyDrivers } from '../../src/storage/s3/drivers.js';
import { faultOf, isNotFound, S3Faults } from '../../src/storage/s3/errors.js';
import { checkUploadId, digestHex, KeyLayout, rootPrefix } from '../../src/storage/s3/keys.js';
import {
  buildEndpointUrl,
  GCS_ENDPOINT,
  googleCloudStorageOptions,
  googleCloudStorageParams,
  radosGwStorageOptions,
  radosGwStorageParams,
  s3StorageOptions,
  s3StorageParams,
} from '../../src/storage/s3/params.js';
import { PartBuffers } from '../../src/storage/s3/part-buffers.js';
import { writeParts } from '../../src/storage/s3/part-writer.js';
import { GiB, MAX_PARTS, MiB, MIN_PART_BYTES, planCopy, planCopyParts, planTruncate } from '../../src/storage/s3/parts.js';
import { parseStateMetadata, stateMetadata } from '../../src/storage/s3/upload-state.js';
import { pattern } from './conformance.js';

/** The one line an operator reads for a refused parameter set: each issue as `key: message`. */
function issueLines(schema: { safeParse(value: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } }, value: unknown): string[] {
  const result = schema.safeParse(value);
  assert.equal(result.success, false, `accepted ${JSON.stringify(value)}`);
  return (result.error?.issues ?? []).map((issue) => `${issue.path.map(String).join('.') || '(parameters)'}: ${issue.message}`);
}

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('S3Storage parameters', () => {
  test('keys and a region: AWS endpoint of the region, virtual-hosted, static credentials', () => {
    const options = s3StorageOptions(
      s3StorageParams.parse({ s3_bucket: 'quay', storage_path: '/registry', s3_access_key: 'AK', s3_secret_key: 'SK', s3_region: 'eu-west-1' }),
    );
    assert.equal(options.kind, 's3');
    assert.equal(options.bucket, 'quay');
    assert.equal(options.endpoint, undefined);
    assert.equal(options.region, 'eu-west-1');
    assert.equal(options.forcePathStyle, false);
    assert.equal(options.followRegionRedirects, false);
    assert.deepEqual(options.credentials, { accessKeyId: 'AK', secretAccessKey: 'SK' });
    assert.equal(options.partBytes, 8 * MiB);
    assert.equal(options.maxCopyPartBytes, 5 * GiB);
    assert.equal(options.multipartCopy, true);
  });

  test('no keys (null or empty, as Quay configs write them) means the AWS credential chain', () => {
    for (const keys of [{}, { s3_access_key: null, s3_secret_key: null }, { s3_access_key: '', s3_secret_key: '' }]) {
      const options = s3StorageOptions(s3StorageParams.parse({ s3_bucket: 'b', storage_path: '', ...keys }));
      assert.equal(options.credentials, undefined, JSON.stringify(keys));
      assert.equal(options.followRegionRedirects, true, 'no region: follow S3 to the bucket region');
    }
  });

  test('host and port (boto2 style) or endpoint_url: path-style on that endpoint; endpoint_url wins', () => {
    const hosted = s3StorageOptions(s3StorageParams.parse({ s3_bucket: 'b', storage_path: 'p', host: 'minio.internal', port: 9000 }));
    assert.equal(hosted.endpoint, 'https://minio.internal:9000');
    assert.equal(hosted.forcePathStyle, true);
    assert.equal(hosted.region, process.env.AWS_REGION ?? 'us-east-1');
    const both = s3StorageOptions(
      s3StorageParams.parse({ s3_bucket: 'b', storage_path: 'p', host: 'ignored', endpoint_url: 'http://127.0.0.1:8080', s3_region: 'us-west-2' }),
    );
    assert.equal(both.endpoint, 'http://127.0.0.1:8080');
    assert.equal(both.region, 'us-west-2', 'an explicit region signs for the custom endpoint');
    assert.equal(both.followRegionRedirects, false);
    assert.equal(s3StorageOptions(s3StorageParams.parse({ s3_bucket: 'b', storage_path: 'p', host: 'h', port: '8443' })).endpoint, 'https://h:8443');
  });

  test('chunk sizes: minimum_chunk_size_mb is the part size, maximum_chunk_size_gb the largest copy part', () => {
    const options = s3StorageOptions(
      s3StorageParams.parse({ s3_bucket: 'b', storage_path: 'p', minimum_chunk_size_mb: 64, maximum_chunk_size_gb: 1, signature_version: 's3v4' }),
    );
    assert.equal(options.partBytes, 64 * MiB);
    assert.equal(options.maxCopyPartBytes, 1 * GiB);
  });

  test('refusals are one line each, naming the key', () => {
    const base = { s3_bucket: 'b', storage_path: '/p' };
    const cases: [unknown, RegExp][] = [
      [{ storage_path: '/p' }, /^s3_bucket: is required$/],
      [{ ...base, bucket: 'x' }, /^\(parameters\): unknown S3Storage parameter bucket \(known: s3_bucket, storage_path, .*\)$/],
      [{ ...base, s3_access_key: 'only-one' }, /^s3_secret_key: must be set with the other key/],
      [{ ...base, minimum_chunk_size_mb: 1 }, /^minimum_chunk_size_mb: must be at least 5/],
      [{ ...base, minimum_chunk_size_mb: '16' }, /^minimum_chunk_size_mb: must be a number of MiB$/],
      [{ ...base, maximum_chunk_size_gb: 6 }, /^maximum_chunk_size_gb: must be at most 5/],
      [{ ...base, signature_version: 's3' }, /^signature_version: must be s3v4 \(signature version 2 is not supported/],
      [{ ...base, endpoint_url: 'ftp://x' }, /^endpoint_url: must be an http:\/\/ or https:\/\/ URL$/],
      [{ ...base, host: 'h', port: 'eighty' }, /^port: must be a port number/],
      [{ ...base, host: 'h', port: 70_000 }, /^port: must be a port number/],
      [{ ...base, port: 80 }, /^port: needs host$/],
      [{ s3_bucket: 'b' }, /^storage_path: is required$/],
      [{ s3_bucket: 42, storage_path: '' }, /^s3_bucket: must be a string$/],
    ];
    for (const [value, expected] of cases) {
      const lines = issueLines(s3StorageParams, value);
      assert.equal(lines.length, 1, `${JSON.stringify(value)}: ${lines.join(' | ')}`);
      assert.match(lines[0] as string, expected);
      assert.doesNotMatch(lines[0] as string, /\n/);
    }
  });
});

describe('GoogleCloudStorage parameters', () => {
  test('the S3 store on GCS endpoint with HMAC keys, one CopyObject per commit', () => {
    const options = googleCloudStorageOptions(
      googleCloudStorageParams.parse({ access_key: 'GOOG1E', secret_key: 'hmac', bucket_name: 'gcs-b', storage_path: '/q', minimum_chunk_size_mb: 32, boto_timeout: 30 }),
    );
    assert.equal(options.kind, 'gcs');
    assert.equal(options.endpoint, GCS_ENDPOINT);
    assert.equal(options.endpoint, 'https://storage.googleapis.com');
    assert.equal(options.bucket, 'gcs-b');
    assert.equal(options.storagePath, '/q');
    assert.deepEqual(options.credentials, { accessKeyId: 'GOOG1E', secretAccessKey: 'hmac' });
    assert.equal(options.partBytes, 32 * MiB);
    assert.equal(options.multipartCopy, false);
    assert.equal(options.requestTimeoutMs, 30_000);
    assert.equal(options.forcePathStyle, true);
  });

  test('refusals name the key; no endpoint can be given', () => {
    const base = { access_key: 'a', secret_key: 's', bucket_name: 'b', storage_path: '' };
    assert.deepEqual(issueLines(googleCloudStorageParams, { ...base, secret_key: undefined }), ['secret_key: is required']);
    assert.match(issueLines(googleCloudStorageParams, { ...base, endpoint_url: 'http://x' })[0] as string, /unknown GoogleCloudStorage parameter endpoint_url/);
    assert.deepEqual(issueLines(googleCloudStorageParams, { ...base, boto_timeout: 0 }), ['boto_timeout: must be positive']);
  });
});

describe('RadosGWStorage parameters', () => {
  test('hostname, port and is_secure make the endpoint; server_side_assembly chooses multipart copy', () => {
    const base = { access_key: 'a', secret_key: 's', bucket_name: 'b', storage_path: '/datastorage/registry' };
    const plain = radosGwStorageOptions(radosGwStorageParams.parse({ ...base, hostname: 'rgw.local', port: 7480, is_secure: false }));
    assert.equal(plain.endpoint, 'http://rgw.local:7480');
    assert.equal(plain.kind, 'radosgw');
    assert.equal(plain.forcePathStyle, true);
    assert.equal(plain.region, 'us-east-1');
    assert.equal(plain.multipartCopy, true);
    assert.equal(plain.maxCopyPartBytes, 100 * MiB);
    const secure = radosGwStorageOptions(
      radosGwStorageParams.parse({ ...base, hostname: 'rgw.local', is_secure: true, region_name: 'default', server_side_assembly: false, maximum_chunk_size_mb: 500 }),
    );
    assert.equal(secure.endpoint, 'https://rgw.local');
    assert.equal(secure.region, 'default');
    assert.equal(secure.multipartCopy, false);
    assert.equal(secure.maxCopyPartBytes, 500 * MiB);
    assert.deepEqual(issueLines(radosGwStorageParams, { ...base, hostname: 'h', is_secure: 'yes' }), ['is_secure: must be true or false']);
    assert.deepEqual(issueLines(radosGwStorageParams, { ...base, is_secure: true }), ['hostname: is required']);
  });

  test("Quay's endpoint building: scheme kept, port appended unless the host has one", () => {
    assert.equal(buildEndpointUrl('rgw', undefined, true), 'https://rgw');
    assert.equal(buildEndpointUrl('rgw', 80, false), 'http://rgw:80');
    assert.equal(buildEndpointUrl('http://rgw', 8080, true), 'http://rgw:8080');
    assert.equal(buildEndpointUrl('rgw:9000', 8080, true), 'https://rgw:9000');
    assert.equal(buildEndpointUrl('https://rgw:9000/', 8080, true), 'https://rgw:9000/');
  });
});

describe('S3 family drivers', () => {
  test("Quay's driver names, each with a strict schema whose keys the factory can list", () => {
    assert.deepEqual(s3FamilyDrivers.map((driver) => driver.name), ['S3Storage', 'GoogleCloudStorage', 'RadosGWStorage']);
    for (const driver of s3FamilyDrivers) {
      const shape = (driver.params as unknown as { shape?: Record<string, unknown> }).shape;
      assert.ok(shape !== undefined && Object.keys(shape).includes('storage_path'), driver.name);
      assert.equal(driver.params.safeParse({ storage_path: '', not_a_quay_key: 1 }).success, false);
    }
  });
});

describe('S3 client configuration', () => {
  test('bodies of known length, no aws-chunked, retries, timeouts on the handler', () => {
    const options = s3StorageOptions(s3StorageParams.parse({ s3_bucket: 'b', storage_path: '', endpoint_url: 'http://127.0.0.1:1' }));
    const config = s3ClientConfig(options, ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n']);
    assert.equal(config.requestChecksumCalculation, 'WHEN_REQUIRED');
    assert.equal(config.responseChecksumValidation, 'WHEN_REQUIRED');
    assert.equal(config.forcePathStyle, true);
    assert.equal(config.endpoint, 'http://127.0.0.1:1');
    assert.equal(config.maxAttempts, options.maxAttempts);
    assert.ok(options.maxAttempts > 1);
    assert.ok(options.connectTimeoutMs > 0 && options.requestTimeoutMs > 0 && options.longRequestTimeoutMs >= options.requestTimeoutMs);
    assert.ok(config.requestHandler !== undefined);
  });
});

describe('S3 key layout', () => {
  test('blobs at <storage_path>/sha256/<2>/<hex>, uploads under <storage_path>/uploads/<id>/', () => {
    for (const [storagePath, root] of [['', ''], ['/', ''], ['/registry', 'registry/'], ['a/b/', 'a/b/'], ['//x//', 'x/']] as const) {
      assert.equal(rootPrefix(storagePath), root);
      const keys = new KeyLayout(storagePath);
      assert.equal(keys.blob(DIGEST), `${root}sha256/ab/${'ab'.repeat(32)}`);
      assert.equal(keys.uploadState('u-1'), `${root}uploads/u-1/state`);
      assert.equal(keys.uploadData('u-1'), `${root}uploads/u-1/data`);
      assert.equal(keys.verifyMarker('_verify'), `${root}_verify`);
      assert.deepEqual(keys.parseUploadKey(`${root}uploads/u-1/previous`), { uploadId: 'u-1', name: 'previous' });
      assert.equal(keys.parseUploadKey(`${root}uploads/u-1`), undefined);
      assert.equal(keys.parseUploadKey(`${root}uploads/../x/state`), undefined);
      assert.equal(keys.parseUploadKey(`${root}sha256/ab/cd`), undefined);
    }
  });

  test('digests and upload ids a client sends never become arbitrary keys', () => {
    assert.equal(digestHex(DIGEST), 'ab'.repeat(32));
    for (const bad of ['../x', `sha256:${'A'.repeat(64)}`, `sha512:${'a'.repeat(128)}`, `sha256:${'a'.repeat(64)}/../x`, '']) {
      assert.throws(() => digestHex(bad), /invalid blob digest/);
    }
    for (const bad of ['..', 'a/b', '', 'x'.repeat(65), '.hidden', 'a\0b']) assert.throws(() => checkUploadId(bad), /invalid upload id/);
    checkUploadId('0f8fad5b-d9cb-469f-a165-70867728950e');
  });
});

describe('S3 multipart planning', () => {
  test('a commit copies with one CopyObject up to 5 GiB, in ranges above, or always in one when multipart copy is off', () => {
    assert.deepEqual(planCopy(5 * GiB, { multipartCopy: true, maxPartBytes: 5 * GiB }), { kind: 'single' });
    assert.deepEqual(planCopy(50 * GiB, { multipartCopy: false, maxPartBytes: 5 * GiB }), { kind: 'single' });
    const plan = planCopy(5 * GiB + 1, { multipartCopy: true, maxPartBytes: 1 * GiB });
    assert.equal(plan.kind, 'multipart');
    assert.deepEqual(plan.kind === 'multipart' ? plan.parts.at(-1) : undefined, { partNumber: 6, start: 5 * GiB, end: 5 * GiB });
  });

  test('copy parts are contiguous, cover the object, respect S3 sizes, and never exceed 10000', () => {
    for (const [size, maxPart] of [[5 * GiB + 1, 5 * GiB], [12 * GiB + 7, 100 * MiB], [2000 * GiB, 100 * MiB], [6 * GiB, 1]] as const) {
      const parts = planCopyParts(size, maxPart);
      assert.ok(parts.length <= MAX_PARTS, `${size}: ${parts.length} parts`);
      let next = 0;
      parts.forEach((part, index) => {
        assert.equal(part.partNumber, index + 1);
        assert.equal(part.start, next);
        const bytes = part.end - part.start + 1;
        assert.ok(bytes <= 5 * GiB);
        if (index < parts.length - 1) assert.ok(bytes >= MIN_PART_BYTES, `part ${index + 1} of ${size}: ${bytes}`);
        next = part.end + 1;
      });
      assert.equal(next, size);
    }
    assert.equal(planCopyParts(2000 * GiB, 100 * MiB).length, MAX_PARTS);
    assert.throws(() => planCopyParts(MAX_PARTS * 5 * GiB + 1, 5 * GiB), /exceed/);
    assert.throws(() => planCopyParts(0, 5 * GiB), RangeError);
  });

  test('truncation cuts on part boundaries or in the tail, steps back to the previous state, refuses the rest', () => {
    const shape = { partSizes: [10, 10, 7], tailBytes: 4 };
    assert.deepEqual(planTruncate(shape, 31, undefined), { kind: 'keep', parts: 3, tailBytes: 4 });
    assert.deepEqual(planTruncate(shape, 28, undefined), { kind: 'keep', parts: 3, tailBytes: 1 });
    assert.deepEqual(planTruncate(shape, 27, undefined), { kind: 'keep', parts: 3, tailBytes: 0 });
    assert.deepEqual(planTruncate(shape, 20, undefined), { kind: 'keep', parts: 2, tailBytes: 0 });
    assert.deepEqual(planTruncate(shape, 0, undefined), { kind: 'keep', parts: 0, tailBytes: 0 });
    assert.deepEqual(planTruncate(shape, 15, undefined), { kind: 'impossible', reason: 'inside-part' });
    assert.deepEqual(planTruncate(shape, 15, 15), { kind: 'previous' });
    assert.deepEqual(planTruncate(shape, 32, undefined), { kind: 'impossible', reason: 'beyond-end' });
    assert.deepEqual(planTruncate(shape, -1, undefined), { kind: 'impossible', reason: 'beyond-end' });
  });

  test('the upload state round-trips through object metadata and refuses foreign objects', () => {
    const state = { multipartId: 'mp-1', parts: 3, partBytes: 3 * 8 * MiB };
    assert.deepEqual(parseStateMetadata(stateMetadata(state), 'k'), state);
    assert.throws(() => parseStateMetadata({}, 'k'), /not an upload state/);
    assert.throws(() => parseStateMetadata({ parts: '2', 'part-bytes': '10', 'multipart-id': '' }, 'k'), /not an upload state/);
  });
});

describe('S3 part writer', () => {
  const partBytes = MIN_PART_BYTES + 1024;

  async function write(prefix: Buffer, body: Buffer, firstPartNumber = 1, piece = 300_000, buffers?: PartBuffers) {
    const uploaded = new Map<number, Buffer>();
    let concurrent = 0;
    let maxConcurrent = 0;
    const written = await writeParts({
      body: Readable.from((function* () { for (let i = 0; i < body.length; i += piece) yield body.subarray(i, i + piece); })()),
      prefix,
      partBytes,
      firstPartNumber,
      ...(buffers === undefined ? {} : { buffers }),
      upload: async (partNumber, bytes) => {
        concurrent += 1;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await new Promise((resolve) => setImmediate(resolve));
        uploaded.set(partNumber, Buffer.from(bytes));
        concurrent -= 1;
      },
    });
    return { written, uploaded, maxConcurrent };
  }

  test('prefix and body are cut into full parts; a remainder under 5 MiB is the tail', async () => {
    const prefix = pattern(1000, 1);
    const body = pattern(2 * partBytes + 5000, 2);
    const { written, uploaded, maxConcurrent } = await write(prefix, body, 4);
    assert.deepEqual(written.partSizes, [partBytes, partBytes]);
    assert.deepEqual([...uploaded.keys()], [4, 5]);
    assert.equal(written.bodyBytes, body.length);
    const all = Buffer.concat([prefix, body]);
    assert.deepEqual(Buffer.concat([uploaded.get(4) as Buffer, uploaded.get(5) as Buffer, written.tail]), all);
    assert.equal(written.tail.length, 6000);
    assert.equal(maxConcurrent, 1, 'one part in flight at a time');
  });

  test('a remainder of at least 5 MiB becomes a shorter part; an empty body writes nothing', async () => {
    const body = pattern(partBytes + MIN_PART_BYTES, 3);
    const { written, uploaded } = await write(Buffer.alloc(0), body);
    assert.deepEqual(written.partSizes, [partBytes, MIN_PART_BYTES]);
    assert.equal(written.tail.length, 0);
    assert.deepEqual(Buffer.concat([uploaded.get(1) as Buffer, uploaded.get(2) as Buffer]), body);
    const empty = await write(pattern(10, 4), Buffer.alloc(0));
    assert.deepEqual(empty.written.partSizes, []);
    assert.deepEqual(empty.written.tail, pattern(10, 4));
    assert.equal(empty.written.bodyBytes, 0);
  });

  test('appends of one store reuse its part buffers: two parts at most are held, later appends allocate none', async () => {
    const buffers = new PartBuffers(partBytes);
    const first = await write(Buffer.alloc(0), pattern(5 * partBytes + 10, 7), 1, 65_536, buffers);
    assert.deepEqual(first.written.partSizes, Array.from({ length: 5 }, () => partBytes));
    assert.deepEqual(buffers.stats(), { outstanding: 0, mostOutstanding: 2, allocations: 2, free: 2 });
    // A 64 MiB-chunk push is a series of such appends: each one takes the kept buffers instead of new ones.
    for (let i = 0; i < 3; i += 1) {
      const body = pattern(4 * partBytes, 8 + i);
      const next = await write(Buffer.alloc(0), body, 1, 65_536, buffers);
      assert.deepEqual(Buffer.concat([...next.uploaded.values()]), body);
    }
    assert.deepEqual(buffers.stats(), { outstanding: 0, mostOutstanding: 2, allocations: 2, free: 2 });
    // A small append takes a kept buffer too (nothing to grow), and gives it back.
    const small = await write(pattern(100, 11), pattern(5000, 12), 1, 1000, buffers);
    assert.equal(small.written.tail.length, 5100);
    assert.deepEqual(buffers.stats(), { outstanding: 0, mostOutstanding: 2, allocations: 2, free: 2 });
  });

  test('concurrent appends take their own buffers; no more than two are kept once they are done', async () => {
    const buffers = new PartBuffers(partBytes);
    await Promise.all([1, 2, 3].map((n) => write(Buffer.alloc(0), pattern(3 * partBytes, n), 1, 65_536, buffers)));
    const stats = buffers.stats();
    assert.equal(stats.outstanding, 0);
    assert.ok(stats.mostOutstanding <= 6, `at most two per append (${stats.mostOutstanding})`);
    assert.equal(stats.free, 2);
  });

  test('a failed append does not give its buffers back (the failed request may still hold them)', async () => {
    const buffers = new PartBuffers(partBytes);
    await assert.rejects(
      writeParts({
        body: Readable.from([pattern(3 * partBytes, 5)]),
        prefix: Buffer.alloc(0),
        partBytes,
        firstPartNumber: 1,
        buffers,
        upload: async () => {
          throw new Error('part refused');
        },
      }),
      /part refused/,
    );
    assert.equal(buffers.stats().free, 0);
    await assert.rejects(
      writeParts({ body: Readable.from([Buffer.from('x')]), prefix: Buffer.alloc(0), partBytes: MIN_PART_BYTES, firstPartNumber: 1, buffers, upload: async () => undefined }),
      /part buffers of/,
    );
  });

  test('a failing part upload fails the append; an aborted signal stops it', async () => {
    const failure = new Error('part refused');
    await assert.rejects(
      writeParts({
        body: Readable.from([pattern(3 * partBytes, 5)]),
        prefix: Buffer.alloc(0),
        partBytes,
        firstPartNumber: 1,
        upload: async () => {
          throw failure;
        },
      }),
      /part refused/,
    );
    await assert.rejects(
      writeParts({ body: Readable.from([Buffer.from('x')]), prefix: Buffer.alloc(0), partBytes, firstPartNumber: 1, upload: async () => undefined, signal: AbortSignal.abort() }),
      { name: 'AbortError' },
    );
    await assert.rejects(
      writeParts({ body: Readable.from([pattern(partBytes, 6)]), prefix: Buffer.alloc(0), partBytes, firstPartNumber: MAX_PARTS + 1, upload: async () => undefined }),
      /more than 10000 parts/,
    );
  });
});

describe('S3 error classification', () => {
  function sdkError(name: string, status?: number, code?: string): Error {
    return Object.assign(new Error(name), { name, ...(code === undefined ? {} : { code }), ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }) });
  }

  test('unreachable, timing out and 5xx are unavailable; 403 permission-denied; 507 no-space; the rest passes', () => {
    assert.equal(faultOf(sdkError('Error', undefined, 'ECONNREFUSED'))?.kind, 'unavailable');
    assert.equal(faultOf(sdkError('TimeoutError', undefined, 'ETIMEDOUT'))?.kind, 'unavailable');
    assert.equal(faultOf(sdkError('InternalError', 500))?.kind, 'unavailable');
    assert.equal(faultOf(sdkError('ServiceUnavailable', 503))?.kind, 'unavailable');
    assert.equal(faultOf(sdkError('AccessDenied', 403))?.kind, 'permission-denied');
    assert.equal(faultOf(sdkError('SignatureDoesNotMatch', 403))?.kind, 'permission-denied');
    assert.equal(faultOf(sdkError('InsufficientStorage', 507))?.kind, 'no-space');
    assert.equal(faultOf(sdkError('NoSuchKey', 404)), undefined);
    assert.equal(faultOf(sdkError('AbortError')), undefined);
    assert.equal(faultOf(new RangeError('bad range')), undefined);
    assert.ok(isNotFound(sdkError('NotFound', 404)));
    assert.ok(isNotFound(sdkError('NoSuchUpload', 404)));
    assert.ok(!isNotFound(sdkError('NoSuchBucket', 404)));
  });

  test('each backend code is marked for the log once per interval', () => {
    let now = 0;
    const faults = new S3Faults('s3 bucket b', () => now);
    const first = faults.classify(sdkError('Error', undefined, 'ECONNREFUSED'));
    const second = faults.classify(sdkError('Error', undefined, 'ECONNREFUSED'));
    assert.ok(first instanceof StorageFaultError && second instanceof StorageFaultError);
    assert.equal(first.report, true);
    assert.equal(second.report, false);
    assert.equal(first.kind, 'unavailable');
    assert.match(first.message, /ECONNREFUSED on s3 bucket b/);
    now += 10 * 60_000;
    assert.equal((faults.classify(sdkError('Error', undefined, 'ECONNREFUSED')) as StorageFaultError).report, true);
  });
});
