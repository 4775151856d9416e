import { createHash, randomUUID } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import type { BlobIndex } from '../db/metadata.js';
import type { PlacementIndex } from '../db/placements.js';
import type { ClaimedJob, ReplicationQueue } from '../db/replication-jobs.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { StorageLocation } from '../storage/distributed.js';

/**
 * The replication worker (docs/geo-replication.md), one per `serve` instance: takes jobs from the queue in the
 * shared database (a leased claim, so exactly one instance copies a blob to a location at a time), copies the
 * blob from a location that holds it (server-side when the target's driver can, streamed otherwise: memory
 * flat), verifies size and digest in the target, then records the placement and removes the job. A failed
 * attempt is retried with exponential backoff; jobs live in the database, so they survive restarts.
 */

export interface ReplicationLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

/** How a job ended, for metrics. */
export type JobOutcome = 'copied' | 'already-present' | 'dropped' | 'retried' | 'failed';

export interface ReplicationObserver {
  jobFinished(outcome: JobOutcome, target: string): void;
  bytesCopied(bytes: number, target: string, mode: CopyMode): void;
}

export type CopyMode = 'server-side' | 'streamed';

export interface ReplicationWorkerOptions {
  /** Every location of this instance, by name (the worker copies between any two of them). */
  locations: readonly StorageLocation[];
  queue: ReplicationQueue;
  placements: Pick<PlacementIndex, 'locationsOf' | 'recordPlacement' | 'forgetPlacement'>;
  blobs: Pick<BlobIndex, 'getBlob'>;
  /** This instance's name in the leases (host and pid). */
  owner: string;
  log: ReplicationLog;
  observer?: ReplicationObserver;
  now?: () => number;
  /** Copies running at once (default 2). */
  concurrency?: number;
  /** A claim lasts this long and is renewed every third of it while the copy runs (default 60 s). */
  leaseMs?: number;
  /** Pause when no job is due (default 2 s); wake() cuts it short. */
  idleMs?: number;
  backoff?: BackoffPolicy;
}

export interface BackoffPolicy {
  /** Delay after the first failed attempt; doubled after each further one, up to maxMs. */
  baseMs: number;
  maxMs: number;
  /** Attempts after which a job is given up (state failed, kept for the operator). */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 5_000, maxMs: 10 * 60_000, maxAttempts: 20 };
export const DEFAULT_LEASE_MS = 60_000;

/** When a job that failed its `attempts`-th attempt is due again; undefined: give up. */
export function nextAttemptAt(now: number, attempts: number, policy: BackoffPolicy): number | undefined {
  if (attempts >= policy.maxAttempts) return undefined;
  return now + Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1));
}

export interface ReplicationWorker {
  /** Looks for due jobs now (a push just queued some). */
  wake(): void;
  /** Finishes the copies in flight (their leases are renewed until then), then stops. */
  stop(): Promise<void>;
}

export function startReplicationWorker(options: ReplicationWorkerOptions): ReplicationWorker {
  const now = options.now ?? Date.now;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const idleMs = options.idleMs ?? 2_000;
  let stopped = false;
  // A wake-up that comes while the loops are busy is kept, so that the jobs it announces are not left to the idle pause.
  let woken = false;
  const sleepers = new Set<() => void>();
  const idle = () =>
    new Promise<void>((resolve) => {
      if (woken || stopped) {
        woken = false;
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, idleMs);
      timer.unref();
      sleepers.add(done);
    });
  const wakeAll = () => {
    if (sleepers.size === 0) woken = true;
    for (const sleeper of [...sleepers]) sleeper();
  };

  const loop = async (): Promise<void> => {
    while (!stopped) {
      let job: ClaimedJob | undefined;
      try {
        job = await options.queue.claimNext(options.owner, leaseMs);
      } catch (error) {
        options.log.warn({ err: message(error) }, 'replication: could not claim a job; trying again shortly');
      }
      if (job === undefined) {
        await idle();
        continue;
      }
      await runJob(job, { ...options, now, leaseMs });
    }
  };
  const loops = Array.from({ length: options.concurrency ?? 2 }, () => loop());
  return {
    wake: wakeAll,
    async stop() {
      stopped = true;
      wakeAll();
      await Promise.all(loops);
    },
  };
}

type JobContext = ReplicationWorkerOptions & { now: () => number; leaseMs: number };

/** One attempt at one job, its lease renewed meanwhile; never throws (the outcome goes to the queue). */
export async function runJob(job: ClaimedJob, context: JobContext): Promise<JobOutcome> {
  const { queue, log } = context;
  const lost = new AbortController();
  const renewal = setInterval(() => {
    queue.renewLease(job, context.leaseMs).then(
      (held) => held || lost.abort(new Error('the lease was lost to another instance')),
      () => undefined,
    );
  }, Math.max(1000, Math.floor(context.leaseMs / 3)));
  renewal.unref();
  let outcome: JobOutcome;
  try {
    outcome = await replicate(job, context, lost.signal);
    await queue.complete(job);
  } catch (error) {
    const retryAt = nextAttemptAt(context.now(), job.attempts, context.backoff ?? DEFAULT_BACKOFF);
    outcome = retryAt === undefined ? 'failed' : 'retried';
    log.warn(
      { digest: job.digest, to: job.location, attempt: job.attempts, err: message(error), retryAt: retryAt === undefined ? null : new Date(retryAt).toISOString() },
      retryAt === undefined ? 'replication: copy failed; giving up' : 'replication: copy failed; will retry',
    );
    await queue.fail(job, message(error), retryAt).catch(() => undefined);
  } finally {
    clearInterval(renewal);
  }
  context.observer?.jobFinished(outcome, job.location);
  return outcome;
}

/** Makes the target hold the blob and records it; the outcome says whether bytes had to move. */
async function replicate(job: ClaimedJob, context: JobContext, signal: AbortSignal): Promise<JobOutcome> {
  const { digest } = job;
  const target = context.locations.find((location) => location.name === job.location);
  if (target === undefined) throw new Error(`storage location ${job.location} is not configured on this instance`);
  const blob = await context.blobs.getBlob(digest);
  if (blob === undefined) {
    // Garbage collection took the blob: nothing to copy.
    context.log.info({ digest, to: target.name }, 'replication: blob is gone; job dropped');
    return 'dropped';
  }
  const recorded = await context.placements.locationsOf(digest);
  if (recorded.includes(target.name)) return 'already-present';

  // Landed before (a copy whose placement was never recorded, or a blob pushed before geo-replication).
  const present = await target.store.stat(digest);
  if (present !== undefined && present.size === blob.size && (await digestOf(target.store, digest, signal)) === digest) {
    await record(digest, target, context);
    context.log.info({ digest, to: target.name }, 'replication: blob already in the location; placement recorded');
    return 'already-present';
  }

  // Recorded holders first; a blob with no placement at all may be in any location.
  const sources = context.locations.filter((l) => l !== target && (recorded.length === 0 || recorded.includes(l.name)));
  const problems: string[] = [];
  for (const source of sources) {
    const started = context.now();
    try {
      const stat = await source.store.stat(digest);
      if (stat === undefined) continue;
      if (stat.size !== blob.size) throw new Error(`holds ${stat.size} bytes, the blob has ${blob.size}`);
      const mode = await copy(source, target, digest, blob.size, signal);
      await record(digest, target, context);
      context.observer?.bytesCopied(blob.size, target.name, mode);
      context.log.info({ digest, from: source.name, to: target.name, bytes: blob.size, mode, ms: context.now() - started }, 'replication: blob copied');
      return 'copied';
    } catch (error) {
      if (signal.aborted) throw error;
      problems.push(`${source.name}: ${message(error)}`);
    }
  }
  throw new Error(problems.length > 0 ? `no location could provide it (${problems.join('; ')})` : 'no location holds the blob');
}

/** Server-side when the target's driver can (verified by reading the copy back), streamed otherwise. */
async function copy(source: StorageLocation, target: StorageLocation, digest: string, size: number, signal: AbortSignal): Promise<CopyMode> {
  if (target.store.copyBlobFrom !== undefined && (await target.store.copyBlobFrom(source.store, digest))) {
    await verifyCommitted(target, digest, size, signal, true);
    return 'server-side';
  }
  const uploadId = randomUUID();
  const hash = createHash('sha256');
  await target.store.startUpload(uploadId);
  try {
    const bytes = await source.store.read(digest, size > 0 ? { start: 0, end: size - 1 } : undefined, signal);
    const hashed = bytes.pipe(
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      }),
    );
    bytes.once('error', (error) => hashed.destroy(error));
    const written = await target.store.appendUpload(uploadId, 0, hashed, signal);
    const actual = `sha256:${hash.digest('hex')}`;
    if (written !== size || actual !== digest) throw new Error(`the copy has ${written} bytes with digest ${actual}, not ${size} bytes with ${digest}`);
    await target.store.commitUpload(uploadId, digest);
  } catch (error) {
    await target.store.abortUpload(uploadId).catch(() => undefined);
    throw error;
  }
  // The bytes were hashed on their way in; the committed object must have their size.
  await verifyCommitted(target, digest, size, signal, false);
  return 'streamed';
}

async function verifyCommitted(target: StorageLocation, digest: string, size: number, signal: AbortSignal, readBack: boolean): Promise<void> {
  const stat = await target.store.stat(digest);
  if (stat?.size !== size) throw new Error(`${target.name} holds ${stat?.size ?? 'no'} bytes after the copy, not ${size}`);
  if (readBack) {
    const actual = await digestOf(target.store, digest, signal);
    if (actual !== digest) {
      await target.store.delete(digest).catch(() => undefined);
      throw new Error(`${target.name} holds bytes with digest ${actual} after the copy`);
    }
  }
}

/** sha256 of a stored blob, streamed. */
async function digestOf(store: BlobStore, digest: string, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  const stream: Readable = await store.read(digest, undefined, signal);
  for await (const chunk of stream as AsyncIterable<Buffer>) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Records the placement, then makes sure the blob was not collected meanwhile: garbage collection forgets a
 * blob's placements in its transaction, so a placement recorded after it would outlive the blob.
 */
async function record(digest: string, target: StorageLocation, context: JobContext): Promise<void> {
  await context.placements.recordPlacement(digest, target.name);
  if ((await context.blobs.getBlob(digest)) === undefined) {
    await target.store.delete(digest).catch(() => undefined);
    await context.placements.forgetPlacement(digest, target.name);
  }
}

function message(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.split('\n')[0] ?? text;
}

/**
 * Queues a copy to each required location for every blob among `digests` that it does not hold (a pushed
 * manifest's references); returns the jobs queued. Idempotent: a job already queued is not duplicated.
 */
export async function queueMissingCopies(
  placements: Pick<PlacementIndex, 'missingPlacements'>,
  queue: Pick<ReplicationQueue, 'enqueue'>,
  digests: readonly string[],
  required: readonly string[],
): Promise<number> {
  const missing = await placements.missingPlacements(digests, required);
  if (missing.length > 0) await queue.enqueue(missing);
  return missing.length;
}
