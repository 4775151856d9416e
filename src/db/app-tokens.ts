import { randomUUID } from 'node:crypto';
import type { AccountRecord, AppTokenRecord, AppTokenStore } from './account-metadata.js';
import { toAccountRecord } from './account-rows.js';
import type { Database } from './database.js';
import { toDate } from './query-helpers.js';

const TOKEN_COLUMNS = [
  'app_token.id',
  'app_token.account_id',
  'app_token.title',
  'app_token.created_at',
  'app_token.expires_at',
  'app_token.last_used_at',
] as const;

type TokenRow = {
  id: string;
  account_id: number;
  title: string;
  created_at: number | string;
  expires_at: number | string | null;
  last_used_at: number | string | null;
};

function toTokenRecord(row: TokenRow): AppTokenRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    title: row.title,
    createdAt: toDate(row.created_at),
    expiresAt: row.expires_at === null ? null : toDate(row.expires_at),
    lastUsedAt: row.last_used_at === null ? null : toDate(row.last_used_at),
  };
}

/** AppTokenStore on the app_token table; only the token's hash is stored. */
export class KyselyAppTokenStore implements AppTokenStore {
  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {}

  async create(accountId: number, title: string, tokenHash: string, expiresAt: Date | null): Promise<AppTokenRecord> {
    const row = {
      id: randomUUID(),
      account_id: accountId,
      title,
      token_hash: tokenHash,
      created_at: this.now(),
      expires_at: expiresAt === null ? null : expiresAt.getTime(),
      last_used_at: null,
    };
    await this.database.db.insertInto('app_token').values(row).execute();
    return toTokenRecord(row);
  }

  async findByHash(tokenHash: string): Promise<{ token: AppTokenRecord; account: AccountRecord } | undefined> {
    const row = await this.database.db
      .selectFrom('app_token')
      .innerJoin('account', 'account.id', 'app_token.account_id')
      .select([
        ...TOKEN_COLUMNS,
        'account.name',
        'account.kind',
        'account.email',
        'account.enabled',
        'account.owner_id',
        'account.description',
        'account.created_at as account_created_at',
        'account.superuser',
      ])
      .where('app_token.token_hash', '=', tokenHash)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      token: toTokenRecord(row),
      account: toAccountRecord({ ...row, id: row.account_id, created_at: row.account_created_at }),
    };
  }

  async list(accountId: number): Promise<AppTokenRecord[]> {
    const rows = await this.database.db
      .selectFrom('app_token')
      .select(TOKEN_COLUMNS)
      .where('account_id', '=', accountId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toTokenRecord);
  }

  async get(accountId: number, id: string): Promise<AppTokenRecord | undefined> {
    const row = await this.database.db
      .selectFrom('app_token')
      .select(TOKEN_COLUMNS)
      .where('account_id', '=', accountId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toTokenRecord(row);
  }

  async revoke(accountId: number, id: string): Promise<boolean> {
    const result = await this.database.db
      .deleteFrom('app_token')
      .where('account_id', '=', accountId)
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async touch(id: string): Promise<void> {
    await this.database.db.updateTable('app_token').set({ last_used_at: this.now() }).where('id', '=', id).execute();
  }
}
