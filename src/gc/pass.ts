import type { GarbagePolicy, Metadata } from '../db/metadata.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { GcMetrics } from './metrics.js';

/** The part of a logger a pass writes to (pino and Fastify's logger fit). */
export interface GcLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export interface GcPassOptions {
  timeMachineMs: number;
  graceMs: number;
  /** Who holds the leases (one name per instance or CLI run). */
  holder: string;
  /** How long a lease lasts; a crashed holder's work is taken over after it. */
  leaseMs: number;
  now?: () => number;
  /** Only this repository (its blobs are still swept registry-wide, as only unlinked blobs go). */
  repositoryId?: number;
  /** List what would go, remove nothing. */
  dryRun?: boolean;
  /** Called after each repository and each batch of blobs. */
  onProgress?: (progress: { phase: 'repositories' | 'blobs'; done: number; total: number }) => void;
  /** Each removal (or, in a dry run, each candidate). */
  onItem?: (item: { kind: 'manifest' | 'link' | 'blob'; repositoryId?: number; digest: string; size?: number }) => void;
  metrics?: GcMetrics;
}

export interface GcSummary {
  repositories: number;
  /** Repositories another instance was collecting (their lease), left to it. */
  skipped: number;
  manifests: number;
  links: number;
  expiredTagLifetimes: number;
  blobs: number;
  bytes: number;
  durationMs: number;
}

const REPOSITORY_PAGE = 500;
const BLOB_BATCH = 100;
/** Bound on blob batches per pass, so a storage outage cannot spin one pass forever. */
const MAX_BLOB_BATCHES = 10_000;

/**
 * One pass: every repository (or one) under its lease, then the blobs no repository links. Each step commits on
 * its own, so a pass killed half way leaves a consistent database and the next pass finishes the job.
 */
export async function runGcPass(metadata: Metadata, storage: BlobStore, log: GcLog, options: GcPassOptions): Promise<GcSummary> {
  const now = options.now ?? Date.now;
  const started = now();
  const policy = (): GarbagePolicy => ({ now: now(), timeMachineMs: options.timeMachineMs, graceMs: options.graceMs });
  const summary: GcSummary = { repositories: 0, skipped: 0, manifests: 0, links: 0, expiredTagLifetimes: 0, blobs: 0, bytes: 0, durationMs: 0 };

  const ids: number[] = [];
  if (options.repositoryId !== undefined) ids.push(options.repositoryId);
  else {
    for (let after = 0; ; ) {
      const page = await metadata.garbage.listRepositoryIds(after, REPOSITORY_PAGE);
      ids.push(...page);
      if (page.length < REPOSITORY_PAGE) break;
      after = page[page.length - 1]!;
    }
  }
  for (const [index, id] of ids.entries()) {
    const lease = `repository:${id}`;
    if (!options.dryRun && !(await metadata.garbage.acquireLease(lease, options.holder, now(), options.leaseMs))) {
      summary.skipped += 1;
      continue;
    }
    try {
      const garbage = options.dryRun
        ? await metadata.garbage.findRepositoryGarbage(id, policy())
        : await metadata.garbage.collectRepository(id, policy());
      summary.repositories += 1;
      summary.manifests += garbage.manifests.length;
      summary.links += garbage.links.length;
      summary.expiredTagLifetimes += garbage.expiredTagLifetimes;
      options.metrics?.manifests.inc(options.dryRun ? 0 : garbage.manifests.length);
      for (const digest of garbage.manifests) {
        options.onItem?.({ kind: 'manifest', repositoryId: id, digest });
        if (!options.dryRun) log.info({ repositoryId: id, digest }, 'gc: deleted manifest');
      }
      for (const digest of garbage.links) options.onItem?.({ kind: 'link', repositoryId: id, digest });
    } finally {
      if (!options.dryRun) await metadata.garbage.releaseLease(lease, options.holder);
    }
    options.onProgress?.({ phase: 'repositories', done: index + 1, total: ids.length });
  }

  await sweepBlobs(metadata, storage, log, options, policy, summary, now);
  summary.durationMs = now() - started;
  if (!options.dryRun) {
    options.metrics?.passes.inc();
    options.metrics?.duration.observe(summary.durationMs / 1000);
  }
  return summary;
}

async function sweepBlobs(
  metadata: Metadata,
  storage: BlobStore,
  log: GcLog,
  options: GcPassOptions,
  policy: () => GarbagePolicy,
  summary: GcSummary,
  now: () => number,
): Promise<void> {
  if (options.dryRun) {
    const candidates = await metadata.garbage.listGarbageBlobs(policy(), BLOB_BATCH * MAX_BLOB_BATCHES);
    for (const blob of candidates) {
      options.onItem?.({ kind: 'blob', digest: blob.digest, size: blob.size });
      summary.blobs += 1;
      summary.bytes += blob.size;
    }
    options.onProgress?.({ phase: 'blobs', done: candidates.length, total: candidates.length });
    return;
  }
  if (!(await metadata.garbage.acquireLease('blobs', options.holder, now(), options.leaseMs))) return;
  const failed = new Set<string>();
  try {
    for (let batch = 0; batch < MAX_BLOB_BATCHES; batch += 1) {
      const candidates = (await metadata.garbage.listGarbageBlobs(policy(), BLOB_BATCH + failed.size)).filter((b) => !failed.has(b.digest));
      if (candidates.length === 0) break;
      for (const blob of candidates) {
        try {
          if (!(await metadata.garbage.collectBlob(blob.digest, policy(), () => storage.delete(blob.digest)))) {
            failed.add(blob.digest);
            continue;
          }
        } catch (error) {
          failed.add(blob.digest);
          log.warn({ err: error, digest: blob.digest }, 'gc: could not delete a blob; the next pass tries again');
          continue;
        }
        summary.blobs += 1;
        summary.bytes += blob.size;
        options.metrics?.blobs.inc();
        options.metrics?.bytes.inc(blob.size);
        options.onItem?.({ kind: 'blob', digest: blob.digest, size: blob.size });
        log.info({ digest: blob.digest, size: blob.size }, 'gc: deleted blob');
      }
      options.onProgress?.({ phase: 'blobs', done: summary.blobs, total: summary.blobs + failed.size });
      await metadata.garbage.acquireLease('blobs', options.holder, now(), options.leaseMs);
    }
  } finally {
    await metadata.garbage.releaseLease('blobs', options.holder);
  }
}
