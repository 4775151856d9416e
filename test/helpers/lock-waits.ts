// How many sessions of a test database wait for a row lock right now: lets a concurrency test wait until the
// statement it started is really blocked on the lock another connection holds (instead of sleeping).
import { sql } from 'kysely';
import type { FreshDatabase } from './databases.js';

/**
 * How often to ask lockWaits while waiting for a lock wait. MariaDB serves information_schema.innodb_trx from a
 * cache it refreshes only when nobody has read it for 100 ms (trx0i_s.cc, CACHE_MIN_IDLE_TIME): polled every
 * 20 ms, the cache froze at whatever it held before the contender blocked, and the wait timed out in 4 runs of 10.
 */
export const LOCK_WAIT_POLL_MS = 250;

/** Sessions of `fresh`'s database waiting for a lock (PostgreSQL: pg_stat_activity; MariaDB/MySQL: InnoDB's transactions). */
export async function lockWaits(fresh: FreshDatabase): Promise<number> {
  const name = new URL(fresh.uri.replace(/^mysql\+pymysql:/, 'mysql:')).pathname.slice(1);
  if (fresh.database.dialect === 'postgres') {
    const rows = await sql<{ n: number | string }>`select count(*) as n from pg_stat_activity where datname = ${name} and wait_event_type = 'Lock'`.execute(fresh.database.db);
    return Number(rows.rows[0]?.n ?? 0);
  }
  if (fresh.database.dialect === 'mysql') {
    const rows = await sql<{ n: number | string }>`select count(*) as n from information_schema.innodb_trx t
      join information_schema.processlist p on p.id = t.trx_mysql_thread_id where t.trx_state = 'LOCK WAIT' and p.db = ${name}`.execute(fresh.database.db);
    return Number(rows.rows[0]?.n ?? 0);
  }
  throw new Error('lockWaits: SQLite has one writer, nothing waits for a row lock');
}
