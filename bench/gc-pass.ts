// GC pass time on a registry of N manifests (default 10,000; --quick 2,000) in one repository per 100
// manifests, on PostgreSQL: half the manifests tagged, half untagged and past the grace period, each with its
// own layer and one layer shared by all. Prints the pass time and manifests, links and blobs per second.
// Store level only (no concurrent pushes and pulls yet): node dist/bench/gc-pass.js [--quick] [--manifests N]
import { createMetadata } from '../src/db/kysely-metadata.js';
import { runGcPass } from '../src/gc/pass.js';
import type { BlobStore } from '../src/storage/blob-store.js';
import { freshDatabase } from '../test/helpers/databases.js';

const args = process.argv.slice(2);
const flag = args.indexOf('--manifests');
const total = flag >= 0 ? Number(args[flag + 1]) : args.includes('--quick') ? 2000 : 10_000;
const HOUR = 3_600_000;
const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

const fresh = await freshDatabase('postgres');
try {
  const metadata = createMetadata(fresh.database, { now: () => Date.now() - 2 * HOUR });
  const shared = digest(1);
  await metadata.blobs.recordBlob(shared, 1000);
  const loadStart = performance.now();
  let repo = 0;
  for (let i = 0; i < total; i++) {
    if (i % 100 === 0) {
      repo = (await metadata.repositories.ensureRepository(`bench/r${i / 100}`)).id;
      await metadata.blobs.linkBlob(repo, shared);
    }
    const layer = digest(1_000_000 + i);
    await metadata.blobs.recordBlob(layer, 4096);
    await metadata.blobs.linkBlob(repo, layer);
    await metadata.manifests.putManifest(repo, {
      digest: digest(2_000_000 + i),
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: null,
      subjectDigest: null,
      annotations: null,
      bytes: Buffer.from(`manifest ${i}`),
      references: [{ digest: shared, kind: 'blob' }, { digest: layer, kind: 'blob' }],
    }, i % 2 === 0 ? [`t${i}`] : []);
  }
  const loadMs = performance.now() - loadStart;
  let deletes = 0;
  const storage = { delete: async () => { deletes += 1; } } as unknown as BlobStore;
  const quiet = { info: () => undefined, warn: () => undefined };
  const start = performance.now();
  const summary = await runGcPass(metadata, storage, quiet, { timeMachineMs: 0, graceMs: HOUR, holder: 'bench', leaseMs: 60_000 });
  const seconds = (performance.now() - start) / 1000;
  const rate = (n: number): string => (n / seconds).toFixed(0);
  process.stdout.write(`loaded ${total} manifests in ${(loadMs / 1000).toFixed(1)} s\n`);
  process.stdout.write(`gc pass: ${seconds.toFixed(2)} s, ${summary.repositories} repositories, ${summary.manifests} manifests (${rate(summary.manifests)}/s), ` +
    `${summary.links} links (${rate(summary.links)}/s), ${summary.blobs} blobs (${rate(summary.blobs)}/s, ${deletes} storage deletes), ${summary.bytes} bytes\n`);
} finally {
  await fresh.drop();
}
