import type { SessionRecord, SessionStore } from './account-metadata.js';
import type { Database } from './database.js';
import { toDate } from './query-helpers.js';

/** SessionStore on the session table; rows are keyed by the hash of the cookie's session id. */
export class KyselySessionStore implements SessionStore {
  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {}

  async create(idHash: string, accountId: number, expiresAt: Date): Promise<void> {
    await this.database.db
      .insertInto('session')
      .values({ id_hash: idHash, account_id: accountId, created_at: this.now(), expires_at: expiresAt.getTime() })
      .execute();
  }

  async get(idHash: string): Promise<SessionRecord | undefined> {
    const row = await this.database.db
      .selectFrom('session')
      .select(['account_id', 'created_at', 'expires_at'])
      .where('id_hash', '=', idHash)
      .executeTakeFirst();
    return row && { accountId: row.account_id, createdAt: toDate(row.created_at), expiresAt: toDate(row.expires_at) };
  }

  async delete(idHash: string): Promise<void> {
    await this.database.db.deleteFrom('session').where('id_hash', '=', idHash).execute();
  }

  async deleteForAccount(accountId: number): Promise<number> {
    const result = await this.database.db.deleteFrom('session').where('account_id', '=', accountId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async deleteExpired(before: Date): Promise<number> {
    const result = await this.database.db.deleteFrom('session').where('expires_at', '<', before.getTime()).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
