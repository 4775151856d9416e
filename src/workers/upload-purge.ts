import type { RegistryDeps } from '../registry/context.js';
import { startPeriodic } from './periodic.js';

/**
 * Removes abandoned uploads: rows not written for `uploadExpiryMs` (BLOB_UPLOAD_EXPIRY_S, with their
 * temporary objects), and temporary objects that have no row at all (a monolithic upload or a session
 * start that crashed half way) after ORPHAN_GRACE_MS. Every step is idempotent, so several instances may purge at the same time.
 */

/** Default pause between two purges. */
export const DEFAULT_PURGE_INTERVAL_MS = 10 * 60 * 1000;

/**
 * Temporary objects with no upload row go once they were not written for this long (or the upload expiry,
 * when shorter): a crash left them. A monolithic upload (POST ?digest=) streams into an object that has no
 * row either, but its writes keep moving the object's modification time.
 */
export const ORPHAN_GRACE_MS = 10 * 60 * 1000;

/** Rows handled per database round trip. */
const BATCH = 100;
/** Upper bound of batches per run, so a storage outage cannot spin one run forever. */
const MAX_BATCHES = 1000;

/** Purges stale uploads once; resolves with how many uploads (rows or orphaned objects) were removed. */
export async function purgeStaleUploads(deps: RegistryDeps, now: number = Date.now()): Promise<number> {
  const { metadata, blobs, log } = deps;
  const before = new Date(now - deps.options.uploadExpiryMs);
  const orphansBefore = new Date(now - Math.min(ORPHAN_GRACE_MS, deps.options.uploadExpiryMs));
  let removed = 0;
  const failed = new Set<string>();

  for (let batch = 0; batch < MAX_BATCHES; batch += 1) {
    const stale = (await metadata.uploads.listStaleUploads(before, BATCH + failed.size)).filter((u) => !failed.has(u.id));
    if (stale.length === 0) break;
    for (const upload of stale) {
      try {
        // Object first: if the row went first and we crashed, the object would wait for the orphan scan.
        await blobs.abortUpload(upload.id);
        await metadata.uploads.deleteUpload(upload.id);
        removed += 1;
      } catch (error) {
        failed.add(upload.id);
        log.warn({ err: error, upload: upload.id }, 'upload purge: could not remove a stale upload');
      }
    }
  }

  for (const id of await blobs.listStaleUploads(orphansBefore)) {
    try {
      if ((await metadata.uploads.getUpload(id)) !== undefined) continue;
      await blobs.abortUpload(id);
      removed += 1;
    } catch (error) {
      log.warn({ err: error, upload: id }, 'upload purge: could not remove an orphaned temporary object');
    }
  }
  if (removed > 0) log.info({ removed }, 'upload purge: removed stale uploads');
  return removed;
}

/** Runs purgeStaleUploads now and then every intervalMs until stopped; failures are logged, never thrown. */
export function startUploadPurge(deps: RegistryDeps, intervalMs = DEFAULT_PURGE_INTERVAL_MS, now: () => number = Date.now): { stop(): Promise<void> } {
  return startPeriodic(() => purgeStaleUploads(deps, now()), intervalMs, (error) => deps.log.error({ err: error }, 'upload purge failed'));
}
