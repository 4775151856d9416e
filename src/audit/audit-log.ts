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
 * Writes audit rows in batches. record() never waits and never throws, so a pull does not pay for an
 * INSERT of its own: rows are written every flushIntervalMs (or as soon as a batch is full) and on close.
 * When the database refuses a write the rows stay queued and are retried with the next flush.
 */
export class AuditLog {
  private pending: AuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
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

  /** Queues one event; it is in the database within flushIntervalMs (or after flush()). */
  record(input: AuditInput): void {
    this.pending.push({ ...input, at: input.at ?? new Date(this.now()) });
    if (this.pending.length > this.maxPending) {
      const dropped = this.pending.splice(0, this.pending.length - this.maxPending);
      this.log.error({ dropped: dropped.length }, 'audit log: database unavailable for too long, oldest events dropped');
    }
    if (this.pending.length >= this.batchSize) {
      void this.flush().catch(() => undefined);
    } else if (this.timer === undefined && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush().catch(() => undefined);
      }, this.flushIntervalMs);
      this.timer.unref();
    }
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
