import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import { gcMetricsIn } from '../../src/gc/metrics.js';
import { runGcPass } from '../../src/gc/pass.js';
import { createMetricsRegistry } from '../../src/metrics/registry.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const HOUR = 3_600_000;
const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

describe('a GC pass', () => {
  let fresh: FreshDatabase;
  before(async () => {
    fresh = await freshDatabase('sqlite');
  });
  after(() => fresh.drop());

  it('counts passes, manifests, blobs and bytes, logs each deletion, and skips a repository another holder leases', async () => {
    const metadata = createMetadata(fresh.database, { now: () => Date.now() - 2 * HOUR });
    const [a, b] = [(await metadata.repositories.ensureRepository('p/a')).id, (await metadata.repositories.ensureRepository('p/b')).id];
    for (const [repo, n] of [[a, 1], [b, 2]] as const) {
      await metadata.blobs.recordBlob(digest(n), 100 * n);
      await metadata.blobs.linkBlob(repo, digest(n));
      await metadata.manifests.putManifest(repo, {
        digest: digest(10 + n), mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: null,
        subjectDigest: null, annotations: null, bytes: Buffer.from(`m${n}`), references: [{ digest: digest(n), kind: 'blob' }],
      });
    }
    assert.equal(await metadata.garbage.acquireLease(`repository:${b}`, 'other instance', Date.now(), 60_000), true);
    const registry = createMetricsRegistry();
    const deleted: string[] = [];
    const lines: string[] = [];
    const log = { info: (object: object, message: string) => lines.push(`${message} ${JSON.stringify(object)}`), warn: () => undefined };
    const storage = { delete: async (d: string) => { deleted.push(d); } } as unknown as BlobStore;
    const summary = await runGcPass(metadata, storage, log, { timeMachineMs: 0, graceMs: HOUR, holder: 'me', leaseMs: 60_000, metrics: gcMetricsIn(registry) });
    assert.deepEqual({ ...summary, durationMs: 0 }, { repositories: 1, skipped: 1, manifests: 1, links: 1, expiredTagLifetimes: 0, blobs: 1, bytes: 100, durationMs: 0 });
    assert.deepEqual(deleted, [digest(1)]);
    assert.ok(lines.some((l) => l.startsWith('gc: deleted manifest') && l.includes(digest(11))));
    assert.ok(lines.some((l) => l.startsWith('gc: deleted blob') && l.includes(digest(1))));
    const text = await registry.metrics();
    assert.match(text, /^quayside_gc_passes_total 1$/m);
    assert.match(text, /^quayside_gc_manifests_deleted_total 1$/m);
    assert.match(text, /^quayside_gc_blobs_deleted_total 1$/m);
    assert.match(text, /^quayside_gc_bytes_freed_total 100$/m);
    assert.match(text, /^quayside_gc_pass_duration_seconds_count 1$/m);
    assert.ok(await metadata.manifests.hasManifest(b, digest(12)), 'the leased repository is left to its holder');
  });
});
