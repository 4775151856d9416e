import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Dialect } from '../../src/db/database.js';
import type { RegistryDeps } from '../../src/registry/context.js';
import { ORPHAN_GRACE_MS, purgeStaleUploads, startUploadPurge } from '../../src/workers/upload-purge.js';
import { openAccess } from '../helpers/open-access.js';
import { startTestRegistry } from '../helpers/registry-server.js';

// A day, as the default: the clock is injected, so nothing waits for it.
const EXPIRY_MS = 24 * 60 * 60 * 1000;

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
        assert.ok(await deps.metadata.uploads.advanceUpload(id, 0, bytes, null));
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
        options: { maxManifestBytes: 1 << 20, referrersApi: true, uploadExpiryMs: EXPIRY_MS },
        access: openAccess(registry.metadata),
        audit: registry.auth.audit,
        log: pino({ level: 'silent' }),
      };
    });
    after(async () => registry?.close());

    it('removes orphaned temporary objects after the grace period and stale uploads after the expiry', async () => {
      const t0 = Date.now();
      const stale = await session('purge/a', 10);
      const staleEmpty = await session('purge/a', 0);
      const orphan = randomUUID();
      await deps.blobs.startUpload(orphan);

      assert.equal(await purgeStaleUploads(deps, t0), 0, 'nothing is stale yet');
      assert.equal(await purgeStaleUploads(deps, Date.now() + ORPHAN_GRACE_MS + 1000), 1, 'the orphan goes promptly');
      assert.deepEqual(await exists(orphan), { row: false, object: false });
      assert.deepEqual(await exists(stale), { row: true, object: true }, 'sessions wait for the expiry');

      const later = Date.now() + EXPIRY_MS + 1000;
      assert.equal(await purgeStaleUploads(deps, later), 2);
      assert.deepEqual(await exists(stale), { row: false, object: false });
      assert.deepEqual(await exists(staleEmpty), { row: false, object: false });
      const response = await fetch(new URL(`/v2/purge/a/blobs/uploads/${stale}`, registry.url));
      assert.equal(response.status, 404);
      assert.equal(await purgeStaleUploads(deps, later), 0, 'a second run finds nothing');
    });

    it('never takes a short expiry past the orphan grace', async () => {
      const shortExpiry = { ...deps, options: { ...deps.options, uploadExpiryMs: 60_000 } };
      const orphan = randomUUID();
      await deps.blobs.startUpload(orphan);
      assert.equal(await purgeStaleUploads(shortExpiry, Date.now() + 61_000), 1);
      assert.deepEqual(await exists(orphan), { row: false, object: false });
    });

    it('runs periodically on its clock until stopped', async () => {
      const id = await session('purge/periodic', 3);
      let runs = 0;
      const worker = startUploadPurge(deps, 20, () => {
        runs += 1;
        return Date.now() + EXPIRY_MS + 1000;
      });
      try {
        const deadline = Date.now() + 30_000;
        while ((await exists(id)).row || runs < 2) {
          if (Date.now() > deadline) assert.fail('the periodic purge never removed the stale upload');
          await sleep(20);
        }
        assert.deepEqual(await exists(id), { row: false, object: false });
      } finally {
        await worker.stop();
      }
    });
  });
}
