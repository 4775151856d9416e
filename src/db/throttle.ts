import type { ThrottleState, ThrottleStore } from './account-metadata.js';
import type { Database } from './database.js';
import { retryOnDeadlock, toDate } from './query-helpers.js';

/** ThrottleStore on the login_throttle table, shared by every instance. */
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

  async reset(key: string): Promise<void> {
    await this.database.db.deleteFrom('login_throttle').where('key', '=', key).execute();
  }

  async deleteBefore(before: Date): Promise<number> {
    const result = await this.database.db.deleteFrom('login_throttle').where('last_failure_at', '<', before.getTime()).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
