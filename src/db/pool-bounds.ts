import { DatabaseUnavailableError } from './unavailable.js';

/** How long a request may wait on the database, in milliseconds (see parseDatabaseConfig). */
export interface PoolLimits {
  /** Waiting for a pooled connection (a free one, or a new one being opened). */
  acquireTimeoutMs: number;
  /** Waiting for the answer to one statement. */
  queryTimeoutMs: number;
}

/** Where lost connections are reported (a pino logger fits). */
export interface ConnectionLog {
  warn(details: Record<string, unknown>, message: string): void;
}

/**
 * Settles like `work`, or rejects with DatabaseUnavailableError(message) after `ms`, whichever comes first.
 * A value that arrives after the deadline goes to `late` (so an acquired connection is given back); a late
 * failure is dropped (the caller already has its answer).
 */
export function withDeadline<T>(work: Promise<T>, ms: number, message: string, late?: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      reject(new DatabaseUnavailableError(message));
    }, ms);
    work.then(
      (value) => {
        if (!expired) {
          clearTimeout(timer);
          resolve(value);
        } else {
          late?.(value);
        }
      },
      (error: unknown) => {
        if (expired) return;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
