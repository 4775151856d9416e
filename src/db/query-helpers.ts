import { sql, type InsertQueryBuilder, type Kysely, type UpdateObject } from 'kysely';
import type { Database } from './database.js';
import type { Schema } from './schema.js';

/** Converts a bigint column value (a string on PostgreSQL) to a number. */
export function toNumber(value: number | string | bigint): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new TypeError(`expected a numeric column value, got ${String(value)}`);
  return n;
}

/** Converts a bigint-milliseconds column value to a Date. */
export function toDate(value: number | string | bigint): Date {
  return new Date(toNumber(value));
}

/**
 * Makes an insert a no-op when the row's key already exists: ON CONFLICT DO NOTHING on PostgreSQL and
 * SQLite, ON DUPLICATE KEY UPDATE <key> = <key> on MySQL. (INSERT IGNORE would also swallow foreign-key
 * violations and truncations, which must stay errors.)
 */
export function ignoreDuplicate<TB extends keyof Schema & string, O>(
  database: Database,
  query: InsertQueryBuilder<Schema, TB, O>,
  keyColumn: string,
): InsertQueryBuilder<Schema, TB, O> {
  if (database.dialect !== 'mysql') return query.onConflict((oc) => oc.doNothing());
  const noop = { [keyColumn]: sql.ref(keyColumn) } as UpdateObject<Schema, TB, TB>;
  return query.onDuplicateKeyUpdate(noop);
}

const RETRYABLE_CODES = new Set([
  '40P01', // PostgreSQL deadlock_detected
  '40001', // PostgreSQL serialization_failure
  'ER_LOCK_DEADLOCK', // MySQL 1213
  'SQLITE_BUSY',
]);

function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && RETRYABLE_CODES.has(String(error.code));
}

/**
 * Runs an idempotent write again when the database chose it as a deadlock victim. InnoDB may do that to
 * concurrent inserts of the same unique key even though the statements themselves cannot conflict.
 */
export async function retryOnDeadlock<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || !isRetryable(error)) throw error;
      await new Promise((done) => setTimeout(done, attempt * 10 * Math.random()));
    }
  }
}

/** A SQLite transaction holding the write lock from its start (BEGIN IMMEDIATE) on the single connection. */
export async function inSqliteImmediateTransaction<T>(database: Database, work: (trx: Kysely<Schema>) => Promise<T>): Promise<T> {
  return database.db.connection().execute(async (connection) => {
    await sql`begin immediate`.execute(connection);
    try {
      const result = await work(connection);
      await sql`commit`.execute(connection);
      return result;
    } catch (error) {
      // The original error says what went wrong; a failed rollback (no transaction left) adds nothing.
      await sql`rollback`.execute(connection).catch(() => undefined);
      throw error;
    }
  });
}

/**
 * A write transaction serialised per repository. PostgreSQL and MySQL lock the repository row
 * (SELECT ... FOR UPDATE), which is what makes "at most one current tag per name" hold on MySQL, which has
 * no partial unique index. SQLite takes the database write lock up front (BEGIN IMMEDIATE) so that two
 * processes never deadlock upgrading a read lock.
 */
export async function inRepositoryTransaction<T>(
  database: Database,
  repositoryId: number,
  work: (trx: Kysely<Schema>) => Promise<T>,
): Promise<T> {
  return retryOnDeadlock(async () => {
    if (database.dialect === 'sqlite') return inSqliteImmediateTransaction(database, work);
    return database.db.transaction().execute(async (trx) => {
      const lock = trx.selectFrom('repository').select('id').where('id', '=', repositoryId);
      // On PostgreSQL, NO KEY UPDATE still serialises tag writers but lets inserts that merely reference the
      // repository (blob links, uploads, manifests) proceed.
      await (database.dialect === 'postgres' ? lock.forNoKeyUpdate() : lock.forUpdate()).execute();
      return work(trx);
    });
  });
}
