// A SIGKILL in the middle of a GC pass (inside a blob's removal, after the repository sweep committed)
// leaves no dangling reference, and the next pass finishes the job.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import { runGcPass } from '../../src/gc/pass.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { waitUntil } from '../helpers/wait.js';

const CHILD = fileURLToPath(new URL('./gc-crash-child.js', import.meta.url));

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`SIGKILL during a GC pass on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let root: string;
    before(async () => {
      fresh = await freshDatabase(dialect);
      root = await mkdtemp(join(tmpdir(), 'quayside-gc-crash-'));
    });
    after(async () => {
      await fresh.drop();
      await rm(root, { recursive: true, force: true });
    });

    it('keeps the blob row with its object, and the next pass removes both', async () => {
      const metadata = createMetadata(fresh.database);
      const storage = new LocalBlobStore(root);
      const repo = (await metadata.repositories.ensureRepository('crash/app')).id;
      const layers: string[] = [];
      for (const text of ['kept layer', 'dropped layer']) {
        const digest = `sha256:${createHash('sha256').update(text).digest('hex')}`;
        await storage.startUpload(text.replace(' ', '-'));
        await storage.appendUpload(text.replace(' ', '-'), 0, Readable.from([Buffer.from(text)]));
        await storage.commitUpload(text.replace(' ', '-'), digest);
        await metadata.blobs.recordBlob(digest, text.length);
        await metadata.blobs.linkBlob(repo, digest);
        layers.push(digest);
      }
      const [kept, dropped] = layers as [string, string];
      const image = (n: number, layer: string) => ({
        digest: `sha256:${n.toString(16).padStart(64, '0')}`,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: null,
        subjectDigest: null,
        annotations: null,
        bytes: Buffer.from(`image ${n}`),
        references: [{ digest: layer, kind: 'blob' as const }],
      });
      await metadata.manifests.putManifest(repo, image(1, kept), ['latest']);
      await metadata.manifests.putManifest(repo, image(2, dropped));

      const child = spawn(process.execPath, [CHILD, fresh.uri, root], { stdio: ['ignore', 'pipe', 'inherit'] });
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      try {
        await waitUntil('the child to start deleting a blob', () => output.includes(`deleting ${dropped}`), 20_000);
      } finally {
        child.kill('SIGKILL');
        await exited;
      }

      assert.equal(await metadata.manifests.hasManifest(repo, image(2, dropped).digest), false, 'the repository sweep committed');
      assert.equal(await metadata.blobs.getLinkedBlob(repo, dropped), undefined);
      assert.ok(await metadata.blobs.getBlob(dropped), 'the interrupted removal rolled back');
      assert.ok(await storage.stat(dropped));
      assert.ok(await metadata.blobs.getLinkedBlob(repo, kept));

      // The killed holder's leases expire (1 ms); the next pass takes over and finishes.
      const quiet = { info: () => undefined, warn: () => undefined };
      const summary = await waitUntil('a pass that removes the blob', async () => {
        const result = await runGcPass(metadata, storage, quiet, {
          timeMachineMs: 0, graceMs: 3_600_000, holder: 'next', leaseMs: 60_000, now: () => Date.now() + 3 * 3_600_000,
        });
        return result.blobs > 0 && result;
      }, 20_000, 50);
      assert.equal(summary.blobs, 1);
      assert.equal(summary.bytes, 'dropped layer'.length);
      assert.equal(await metadata.blobs.getBlob(dropped), undefined);
      assert.equal(await storage.stat(dropped), undefined);
      assert.equal((await storage.stat(kept))?.size, 'kept layer'.length);
      assert.equal((await metadata.manifests.getTaggedManifest(repo, 'latest'))?.digest, image(1, kept).digest);
    });
  });
}
