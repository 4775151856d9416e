import { randomBytes } from 'node:crypto';
import type { Database } from './database.js';
import type { BlobLocation } from './placements.js';
import { ignoreDuplicate, retryOnDeadlock, toNumber } from './query-helpers.js';

/** A job this instance holds the lease of: copy `digest` to `location`. */
export interface ClaimedJob {
  id: number;
  digest: string;
  location: string;
  /** Attempts so far, this one included. */
  attempts: number;
  createdAt: number;
  /** The lease's token: only the holder of this claim may complete, fail or renew it. */
  claim: string;
}

/** The queue at a glance, for metrics and health. */
export interface ReplicationQueueStats {
  /** Jobs that will be attempted (due now, later, or leased right now). */
  queued: number;
  /** Of those, the ones whose lease is held right now. */
  leased: number;
  /** Jobs that gave up after their last attempt (re-queued by the next enqueue). */
  failed: number;
  /** created_at of the oldest queued job (replication lag = now - this), undefined when none. */
  oldestQueuedAt?: number;
}

/**
 * The replication queue (table replication_job, see docs/geo-replication.md). One row per (blob, target
 * location); a claim is a lease so that exactly one instance copies a blob to a location at a time, and a
 * job whose holder died is claimable again once its lease expires.
 */
export interface ReplicationQueue {
  /** Idempotent: queues the copies, due now; a job that had failed is queued again with its attempts reset. */
  enqueue(jobs: readonly BlobLocation[]): Promise<void>;
  /** Takes the lease of the next due job for `leaseMs`, or undefined when none is due. `owner` names the instance. */
  claimNext(owner: string, leaseMs: number): Promise<ClaimedJob | undefined>;
  /** Extends the lease of a long copy; false when the lease was lost (expired and taken by another instance). */
  renewLease(job: ClaimedJob, leaseMs: number): Promise<boolean>;
  /** Removes a finished (or pointless) job; false when the lease was lost meanwhile. */
  complete(job: ClaimedJob): Promise<boolean>;
  /** Records a failed attempt: due again at `retryAt`, or with undefined, given up (state failed). */
  fail(job: ClaimedJob, error: string, retryAt: number | undefined): Promise<void>;
  stats(): Promise<ReplicationQueueStats>;
}

/** How many due jobs one claim looks at: instances racing for the first one fall through to the next ones. */
const CLAIM_CANDIDATES = 16;
/** last_error is one line for the operator, not a stack. */
const MAX_ERROR_LENGTH = 1000;

/**
 * ReplicationQueue on replication_job.
 *
 * The claim is a compare-and-set: read a few due candidates, then `UPDATE ... SET lease = mine WHERE id = ?
 * AND <still due and unleased>`; the one whose UPDATE changed the row owns it. That single statement is
 * atomic on every dialect: PostgreSQL re-evaluates the WHERE on the row's latest version after waiting for a
 * concurrent writer's row lock (READ COMMITTED), InnoDB's UPDATE is a locking (current) read under either
 * isolation level, and SQLite runs one write statement at a time for the whole database. So two instances can
 * both see a job as due, but only one UPDATE matches it; the other finds it leased and tries its next candidate.
 */
export class KyselyReplicationQueue implements ReplicationQueue {
  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {}

  async enqueue(jobs: readonly BlobLocation[]): Promise<void> {
    const now = this.now();
    for (const { digest, location } of jobs) {
      const insert = this.database.db
        .insertInto('replication_job')
        .values({ digest, location, state: 'queued', attempts: 0, next_attempt_at: now, created_at: now });
      await retryOnDeadlock(() => ignoreDuplicate(this.database, insert, 'digest').execute());
      await this.database.db
        .updateTable('replication_job')
        .set({ state: 'queued', attempts: 0, next_attempt_at: now, lease_owner: null, lease_expires_at: null })
        .where('digest', '=', digest)
        .where('location', '=', location)
        .where('state', '=', 'failed')
        .execute();
    }
  }

  async claimNext(owner: string, leaseMs: number): Promise<ClaimedJob | undefined> {
    const now = this.now();
    const candidates = await this.database.db
      .selectFrom('replication_job')
      .select('id')
      .where('state', '=', 'queued')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(CLAIM_CANDIDATES)
      .execute();
    const claim = `${owner}/${randomBytes(6).toString('hex')}`;
    for (const { id } of candidates) {
      const result = await retryOnDeadlock(() =>
        this.database.db
          .updateTable('replication_job')
          .set((eb) => ({ lease_owner: claim, lease_expires_at: now + leaseMs, attempts: eb('attempts', '+', 1) }))
          .where('id', '=', id)
          .where('state', '=', 'queued')
          .where('next_attempt_at', '<=', now)
          .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
          .executeTakeFirst(),
      );
      if (result.numUpdatedRows === 0n) continue;
      const row = await this.database.db
        .selectFrom('replication_job')
        .select(['id', 'digest', 'location', 'attempts', 'created_at'])
        .where('id', '=', id)
        .where('lease_owner', '=', claim)
        .executeTakeFirst();
      if (row === undefined) continue; // completed by a previous holder in between: nothing to do
      return { id: row.id, digest: row.digest, location: row.location, attempts: row.attempts, createdAt: toNumber(row.created_at), claim };
    }
    return undefined;
  }

  async renewLease(job: ClaimedJob, leaseMs: number): Promise<boolean> {
    const result = await this.database.db
      .updateTable('replication_job')
      .set({ lease_expires_at: this.now() + leaseMs })
      .where('id', '=', job.id)
      .where('lease_owner', '=', job.claim)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async complete(job: ClaimedJob): Promise<boolean> {
    const result = await this.database.db.deleteFrom('replication_job').where('id', '=', job.id).where('lease_owner', '=', job.claim).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async fail(job: ClaimedJob, error: string, retryAt: number | undefined): Promise<void> {
    await this.database.db
      .updateTable('replication_job')
      .set({
        state: retryAt === undefined ? 'failed' : 'queued',
        next_attempt_at: retryAt ?? this.now(),
        lease_owner: null,
        lease_expires_at: null,
        last_error: error.slice(0, MAX_ERROR_LENGTH),
      })
      .where('id', '=', job.id)
      .where('lease_owner', '=', job.claim)
      .execute();
  }

  async stats(): Promise<ReplicationQueueStats> {
    const now = this.now();
    const rows = await this.database.db
      .selectFrom('replication_job')
      .select((eb) => [
        'state',
        eb.fn.countAll<number | string>().as('jobs'),
        eb.fn.min('created_at').as('oldest'),
        eb.fn.sum<number | string | null>(eb.case().when('lease_expires_at', '>=', now).then(1).else(0).end()).as('leased'),
      ])
      .groupBy('state')
      .execute();
    const stats: ReplicationQueueStats = { queued: 0, leased: 0, failed: 0 };
    for (const row of rows) {
      if (row.state === 'failed') stats.failed = toNumber(row.jobs);
      else {
        stats.queued = toNumber(row.jobs);
        stats.leased = row.leased === null ? 0 : toNumber(row.leased);
        if (row.oldest !== null && row.oldest !== undefined) stats.oldestQueuedAt = toNumber(row.oldest);
      }
    }
    return stats;
  }
}
