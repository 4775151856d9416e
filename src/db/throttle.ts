import { sql } from 'kysely';
import type { ThrottleState, ThrottleStore } from './account-metadata.js';
import type { Database } from './database.js';
import { retryOnDeadlock, toDate } from './query-helpers.js';
import { isUniqueViolation } from './write-transaction.js';

/**
 * ThrottleStore on the login_throttle table, shared by every instance. Every change is one atomic
 * statement (INSERT ... ON CONFLICT DO NOTHING, UPDATE ... WHERE <expected values>), so concurrent
 * attempts on several instances serialise on the row and cannot both take the same free attempt.
 */
export class KyselyThrottleStore implements ThrottleStore {
  constructor(private readonly database: Database) {}

  async get(key: string): Promise<ThrottleState | undefined> {
    const row = await this.database.db
      .selectFrom('login_throttle')
      .select(['failures', 'last_failure_at'])
      .where('key', '=', key)
      .executeTakeFirst();
    return row && { failures: Number(row.failures), lastFailureAt: toDate(row.last_failure_at) };
  }

  async put(key: string, state: ThrottleState): Promise<void> {
    const values = { failures: state.failures, last_failure_at: state.lastFailureAt.getTime() };
    const insert = this.database.db.insertInto('login_throttle').values({ key, ...values });
    await retryOnDeadlock(() =>
      (this.database.dialect === 'mysql'
        ? insert.onDuplicateKeyUpdate(values)
        : insert.onConflict((oc) => oc.column('key').doUpdateSet(values))
      ).execute(),
    );
  }

  async create(key: string, state: ThrottleState): Promise<boolean> {
    const insert = this.database.db
      .insertInto('login_throttle')
      .values({ key, failures: state.failures, last_failure_at: state.lastFailureAt.getTime() });
    if (this.database.dialect !== 'mysql') {
      const result = await insert.onConflict((oc) => oc.column('key').doNothing()).executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
    }
    // MySQL's ON DUPLICATE KEY UPDATE reports a found row like an inserted one (CLIENT_FOUND_ROWS), so the
    // duplicate is told apart by its error instead.
    try {
      await retryOnDeadlock(() => insert.execute());
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async replace(key: string, expected: ThrottleState, next: ThrottleState): Promise<boolean> {
    const result = await retryOnDeadlock(() =>
      this.database.db
        .updateTable('login_throttle')
        .set({ failures: next.failures, last_failure_at: next.lastFailureAt.getTime() })
        .where('key', '=', key)
        .where('failures', '=', expected.failures)
        .where('last_failure_at', '=', expected.lastFailureAt.getTime())
        .executeTakeFirst(),
    );
    return result.numUpdatedRows > 0n;
  }

  async decrement(key: string): Promise<void> {
    await retryOnDeadlock(() =>
      this.database.db
        .updateTable('login_throttle')
        .set({ failures: sql<number>`failures - 1` })
        .where('key', '=', key)
        .where('failures', '>', 0)
        .execute(),
    );
  }

  async reset(key: string): Promise<void> {
    await this.database.db.deleteFrom('login_throttle').where('key', '=', key).execute();
  }

  async deleteBefore(before: Date): Promise<number> {
    const result = await this.database.db.deleteFrom('login_throttle').where('last_failure_at', '<', before.getTime()).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
