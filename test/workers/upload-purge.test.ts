import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Dialect } from '../../src/db/database.js';
import type { RegistryDeps } from '../../src/registry/context.js';
import { UploadHasher } from '../../src/registry/upload-hasher.js';
import { purgeStaleUploads, startUploadPurge } from '../../src/workers/upload-purge.js';
import { openAccess } from '../helpers/open-access.js';
import { startTestRegistry } from '../helpers/registry-server.js';

const EXPIRY_MS = 300;

for (const dialect of ['sqlite', 'postgres', 'mysql'] as Dialect[]) {
  describe(`upload purge on ${dialect}`, () => {
    let registry: Awaited<ReturnType<typeof startTestRegistry>>;
    let deps: RegistryDeps;

    /** An upload session with some bytes, as POST + PATCH would leave it. */
    async function session(name: string, bytes: number): Promise<string> {
      const repository = await deps.metadata.repositories.ensureRepository(name);
      const id = randomUUID();
      await deps.metadata.uploads.createUpload(id, repository.id);
      await deps.blobs.startUpload(id);
      if (bytes > 0) {
        await deps.blobs.appendUpload(id, 0, Readable.from([Buffer.alloc(bytes, 7)]));
        assert.ok(await deps.metadata.uploads.advanceUpload(id, 0, bytes));
      }
      return id;
    }

    async function exists(id: string): Promise<{ row: boolean; object: boolean }> {
      const row = (await deps.metadata.uploads.getUpload(id)) !== undefined;
      const object = await deps.blobs.uploadSize(id).then(
        () => true,
        (error: unknown) => {
          if (error instanceof Error && error.name === 'UploadNotFoundError') return false;
          throw error;
        },
      );
      return { row, object };
    }

    before(async () => {
      registry = await startTestRegistry({ dialect });
      deps = {
        metadata: registry.metadata,
        blobs: registry.blobs,
        uploadHashes: new UploadHasher(registry.blobs),
        options: { maxManifestBytes: 1 << 20, referrersApi: true, uploadExpiryMs: EXPIRY_MS },
        access: openAccess(registry.metadata),
        audit: registry.auth.audit,
        log: pino({ level: 'silent' }),
      };
    });
    after(async () => registry?.close());

    it('removes stale uploads and orphaned temporary objects, keeps fresh ones', async () => {
      const stale = await session('purge/a', 10);
      const staleEmpty = await session('purge/a', 0);
      const orphan = randomUUID();
      await deps.blobs.startUpload(orphan);
      deps.uploadHashes.store(stale, createHash('sha256'), 10);
      await sleep(EXPIRY_MS + 200);
      const fresh = await session('purge/b', 5);
      const freshOrphan = randomUUID();
      await deps.blobs.startUpload(freshOrphan);

      const removed = await purgeStaleUploads(deps);
      assert.equal(removed, 3);
      assert.deepEqual(await exists(stale), { row: false, object: false });
      assert.deepEqual(await exists(staleEmpty), { row: false, object: false });
      assert.deepEqual(await exists(orphan), { row: false, object: false });
      assert.deepEqual(await exists(fresh), { row: true, object: true });
      assert.deepEqual(await exists(freshOrphan), { row: false, object: true });
      // Had the cached hash state survived, resume would return it instead of going to storage.
      await assert.rejects(deps.uploadHashes.resume(stale, 10), { name: 'UploadNotFoundError' });

      const response = await fetch(new URL(`/v2/purge/a/blobs/uploads/${stale}`, registry.url));
      assert.equal(response.status, 404);
      assert.equal(await purgeStaleUploads(deps), 0, 'a second run finds nothing');
      await deps.blobs.abortUpload(freshOrphan);
    });

    it('runs periodically until stopped', async () => {
      const id = await session('purge/periodic', 3);
      const worker = startUploadPurge(deps, 50);
      try {
        const deadline = Date.now() + 10_000;
        while ((await exists(id)).row) {
          if (Date.now() > deadline) assert.fail('the periodic purge never removed the stale upload');
          await sleep(50);
        }
        assert.deepEqual(await exists(id), { row: false, object: false });
      } finally {
        await worker.stop();
      }
      const later = await session('purge/periodic', 3);
      await sleep(EXPIRY_MS + 200);
      assert.deepEqual(await exists(later), { row: true, object: true }, 'a stopped worker purges nothing');
    });
  });
}
