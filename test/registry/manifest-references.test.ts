import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { LOOKUP_BATCH_SIZE } from '../../src/db/lookup-batches.js';
import type { Metadata } from '../../src/db/metadata.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, firstError, imageManifest, indexManifest, putManifest, type Desc } from './manifest-fixtures.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const layers = (from: number, count: number): Desc[] =>
  Array.from({ length: count }, (_, i) => ({ mediaType: OCI_LAYER, digest: digest(from + i), size: 1 }));

/** The metadata lookups a manifest PUT made for its references: which method, and how many digests each asked. */
interface Lookup {
  method: string;
  digests: number;
}

const LOOKUP_METHODS = new Set(['getLinkedBlob', 'linkedDigests', 'hasManifest', 'presentManifests']);

/** Lookups running at this moment, and the most there ever were at once. */
const concurrency = { now: 0, max: 0 };

function recordingLookups<T extends object>(target: T, lookups: Lookup[]): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function' || !LOOKUP_METHODS.has(String(property))) return value;
      return (...args: unknown[]) => {
        const asked = args[1];
        lookups.push({ method: String(property), digests: Array.isArray(asked) ? asked.length : 1 });
        concurrency.now += 1;
        concurrency.max = Math.max(concurrency.max, concurrency.now);
        const settle = () => {
          concurrency.now -= 1;
        };
        const result = Reflect.apply(value, object, args) as Promise<unknown>;
        result.then(settle, settle);
        return result;
      };
    },
  });
}

describe('reference checks of a pushed manifest do bounded work', () => {
  let reg: TestRegistry;
  const lookups: Lookup[] = [];
  before(async () => {
    reg = await startTestRegistry({
      wrapMetadata: (metadata: Metadata): Metadata => ({
        ...metadata,
        blobs: recordingLookups(metadata.blobs, lookups),
        manifests: recordingLookups(metadata.manifests, lookups),
        ping: () => metadata.ping(),
        close: () => metadata.close(),
      }),
    });
  });
  after(async () => {
    await reg?.close();
  });
  beforeEach(() => {
    lookups.length = 0;
    concurrency.max = 0;
  });

  /** Records and links blobs 1..count into the repository in two statements (the check reads only metadata). */
  async function seedBlobs(repository: string, count: number): Promise<void> {
    const repo = await reg.metadata.repositories.ensureRepository(repository);
    for (let n = 1; n <= count; n++) {
      await reg.metadata.blobs.recordBlob(digest(n), 1);
      await reg.metadata.blobs.linkBlob(repo.id, digest(n));
    }
  }

  it('refuses an image with more layers than the cap as MANIFEST_INVALID without a single lookup', async () => {
    const bytes = imageManifest({ config: { mediaType: OCI_CONFIG, digest: digest(0), size: 1 }, layers: layers(1, 1001) });
    const response = await putManifest(reg.url, 'bounded/cap', 'v1', bytes);
    assert.equal(response.status, 400);
    const error = await firstError(response);
    assert.equal(error.code, 'MANIFEST_INVALID');
    assert.match(String(error.detail), /layers has 1001 entries; this registry accepts at most 1000/);
    assert.deepEqual(lookups, []);
  });

  it('refuses an index of 20,000 children as MANIFEST_INVALID without a single lookup', async () => {
    const children = Array.from({ length: 20_000 }, (_, i) => ({ mediaType: OCI_MANIFEST, digest: digest(i + 1), size: 1 }));
    const response = await putManifest(reg.url, 'bounded/index', 'v1', indexManifest(children), OCI_INDEX);
    assert.equal(response.status, 400);
    assert.equal((await firstError(response)).code, 'MANIFEST_INVALID');
    assert.deepEqual(lookups, []);
  });

  it('checks a manifest at the cap in batches of at most LOOKUP_BATCH_SIZE and names the first missing layer', async () => {
    // The config and 999 layers are there; the last layer is not.
    await seedBlobs('bounded/batches', 1000);
    const bytes = imageManifest({ config: { mediaType: OCI_CONFIG, digest: digest(1), size: 1 }, layers: layers(2, 999).concat(layers(5000, 1)) });
    const response = await putManifest(reg.url, 'bounded/batches', 'v1', bytes);
    assert.equal(response.status, 400);
    const error = await firstError(response);
    assert.equal(error.code, 'MANIFEST_BLOB_UNKNOWN');
    assert.deepEqual(error.detail, { digest: digest(5000) });
    // 1001 distinct references (the config and 1000 layers): three batch lookups, no per-digest ones.
    assert.deepEqual(lookups, [
      { method: 'linkedDigests', digests: LOOKUP_BATCH_SIZE },
      { method: 'linkedDigests', digests: LOOKUP_BATCH_SIZE },
      { method: 'linkedDigests', digests: 1001 - 2 * LOOKUP_BATCH_SIZE },
    ]);
  });

  it('stops at the first batch that has a gap: 1000 unknown layers cost one lookup', async () => {
    const bytes = imageManifest({ config: { mediaType: OCI_CONFIG, digest: digest(90_000), size: 1 }, layers: layers(90_001, 1000) });
    const response = await putManifest(reg.url, 'bounded/unknown', 'v1', bytes);
    assert.equal(response.status, 400);
    assert.deepEqual(await firstError(response), {
      code: 'MANIFEST_BLOB_UNKNOWN',
      message: 'manifest references a manifest or blob unknown to registry',
      detail: { digest: digest(90_000) },
    });
    await reg.metadata.repositories.ensureRepository('bounded/unknown');
    lookups.length = 0;
    const again = await putManifest(reg.url, 'bounded/unknown', 'v1', bytes);
    assert.equal(again.status, 400);
    await again.arrayBuffer();
    assert.deepEqual(lookups, [{ method: 'linkedDigests', digests: LOOKUP_BATCH_SIZE }]);
  });

  it('accepts a complete manifest at the cap and an index over it, with batch lookups only', async () => {
    await seedBlobs('bounded/complete', 1001);
    const bytes = imageManifest({ config: { mediaType: OCI_CONFIG, digest: digest(1), size: 1 }, layers: layers(2, 1000) });
    const put = await putManifest(reg.url, 'bounded/complete', 'v1', bytes);
    assert.equal(put.status, 201);
    const child = { mediaType: OCI_MANIFEST, digest: put.headers.get('docker-content-digest') ?? '', size: bytes.length };
    const index = await putManifest(reg.url, 'bounded/complete', 'all', indexManifest([child]), OCI_INDEX);
    assert.equal(index.status, 201);
    assert.deepEqual(
      lookups.map((l) => l.method),
      ['linkedDigests', 'linkedDigests', 'linkedDigests', 'presentManifests'],
    );
    assert.ok(lookups.every((l) => l.digests <= LOOKUP_BATCH_SIZE));
  });

});
