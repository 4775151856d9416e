import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import { inSqliteImmediateTransaction, retryOnDeadlock } from './query-helpers.js';
import type { Schema } from './schema.js';

/** The three drivers' codes for a unique or primary-key violation. */
const UNIQUE_VIOLATION_CODES = new Set([
  '23505', // PostgreSQL unique_violation
  'ER_DUP_ENTRY', // MySQL 1062
  'SQLITE_CONSTRAINT_UNIQUE',
  'SQLITE_CONSTRAINT_PRIMARYKEY',
]);

/** The three drivers' codes for a row naming a parent row that does not exist (any more). */
const FOREIGN_KEY_VIOLATION_CODES = new Set([
  '23503', // PostgreSQL foreign_key_violation
  'ER_NO_REFERENCED_ROW_2', // MySQL 1452
  'SQLITE_CONSTRAINT_FOREIGNKEY',
]);

/** Whether a driver error carries one of `codes`. */
function hasCode(error: unknown, codes: ReadonlySet<string>): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && codes.has(String(error.code));
}

/** Whether a driver error is a missing parent row (the caller lost a race with the parent's deletion). */
export function isForeignKeyViolation(error: unknown): boolean {
  return hasCode(error, FOREIGN_KEY_VIOLATION_CODES);
}

/** Whether a driver error is a duplicate key (the caller lost a race for a unique name). */
export function isUniqueViolation(error: unknown): boolean {
  return hasCode(error, UNIQUE_VIOLATION_CODES);
}

/**
 * A write transaction on any dialect, retried when the database picks it as a deadlock victim (so `work` must
 * be safe to run again). SQLite takes the write lock up front (BEGIN IMMEDIATE) so that two processes never
 * deadlock upgrading a read lock, as inRepositoryTransaction does.
 */
export async function inWriteTransaction<T>(database: Database, work: (trx: Kysely<Schema>) => Promise<T>): Promise<T> {
  return retryOnDeadlock(async () => {
    if (database.dialect !== 'sqlite') return database.db.transaction().execute(work);
    return inSqliteImmediateTransaction(database, work);
  });
}
