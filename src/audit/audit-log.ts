import type { AuditEvent, AuditFilter, AuditRecord, AuditStore } from '../db/account-metadata.js';

/** Where the audit log reports rows it could not write (the process logger). */
export interface AuditFailureLog {
  error(details: Record<string, unknown>, message: string): void;
}

export interface AuditLogOptions {
  /** Longest time an event waits in memory before it is written (ms). */
  flushIntervalMs?: number;
  /** Events written per INSERT. */
  batchSize?: number;
  /** Events kept while the database refuses writes; beyond this the oldest are dropped, with a log line. */
  maxPending?: number;
  now?: () => number;
}

/** An audit event as handlers record it; `at` defaults to now. */
export type AuditInput = Omit<AuditEvent, 'at'> & { at?: Date };

/**
 * Kinds that may wait in memory: a pull changes nothing, and one INSERT per pull would cost every pull a
 * database round trip. Every other kind records a change (push, delete, tags, permissions, logins, robots,
 * tokens) and is written before the response that acknowledges it (see durable()).
 */
const BATCHED_KINDS: ReadonlySet<string> = new Set(['pull_repo']);

/**
 * Writes audit rows. Pull rows are batched: written every flushIntervalMs (or as soon as a batch is full)
 * and on close, so a crash loses at most flushIntervalMs of pulls. A change row starts its write at once
 * (rows recorded while a write is in flight share the next INSERT) and durable() resolves when it is in the
 * database: the HTTP layer awaits it before any response goes out. record() never waits and never throws;
 * when the database refuses a write the rows stay queued, are logged, and are retried with the next flush.
 */
export class AuditLog {
  private pending: AuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  /** Settles once every change recorded so far was written (or refused and queued again). */
  private changesWritten: Promise<void> = Promise.resolve();
  private readonly flushIntervalMs: number;
  private readonly batchSize: number;
  private readonly maxPending: number;
  private readonly now: () => number;

  constructor(
    private readonly store: AuditStore,
    private readonly log: AuditFailureLog,
    options: AuditLogOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? 250;
    this.batchSize = options.batchSize ?? 200;
    this.maxPending = options.maxPending ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  /** Queues one event: a change is written at once (see durable()), a pull within flushIntervalMs. */
  record(input: AuditInput): void {
    this.pending.push({ ...input, at: input.at ?? new Date(this.now()) });
    if (this.pending.length > this.maxPending) {
      const dropped = this.pending.splice(0, this.pending.length - this.maxPending);
      this.log.error({ dropped: dropped.length }, 'audit log: database unavailable for too long, oldest events dropped');
    }
    if (!BATCHED_KINDS.has(input.kind) || this.pending.length >= this.batchSize) {
      // flush() runs after the write in flight, so a burst of changes shares one INSERT per round trip.
      this.changesWritten = this.flush().catch(() => undefined);
    } else if (this.timer === undefined && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush().catch(() => undefined);
      }, this.flushIntervalMs);
      this.timer.unref();
    }
  }

  /**
   * Resolves once every change recorded before the call is in the database; never rejects (a refused write
   * is logged and retried, and the change it describes has already happened).
   */
  durable(): Promise<void> {
    return this.changesWritten;
  }

  /** Writes everything queued so far; rejects when the database refused (the rows stay queued). */
  flush(): Promise<void> {
    const run = this.writing.then(() => this.writeAll());
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async writeAll(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.slice(0, this.batchSize);
      try {
        await this.store.append(batch);
      } catch (error) {
        this.log.error({ err: error, queued: this.pending.length }, 'audit log: could not write events, will retry');
        this.scheduleRetry();
        throw error;
      }
      this.pending.splice(0, batch.length);
    }
  }

  private scheduleRetry(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch(() => undefined);
    }, this.flushIntervalMs * 4);
    this.timer.unref();
  }

  /** Flushes (writes what the database accepts) then stops the timer; call before closing the database. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush().catch(() => undefined);
  }

  /** Flushes this instance's queue, then reads; other instances' rows are at most flushIntervalMs late. */
  async query(filter: AuditFilter, page: { limit: number; before?: number }): Promise<AuditRecord[]> {
    await this.flush().catch(() => undefined);
    return this.store.query(filter, page);
  }
}
