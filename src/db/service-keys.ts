import type { ServiceKeyRecord, ServiceKeyStore } from './account-metadata.js';
import type { Database } from './database.js';
import { retryOnDeadlock, toDate } from './query-helpers.js';

const COLUMNS = ['kid', 'public_key', 'created_by', 'created_at', 'expires_at'] as const;

type KeyRow = {
  kid: string;
  public_key: string;
  created_by: string;
  created_at: number | string;
  expires_at: number | string;
};

function toRecord(row: KeyRow): ServiceKeyRecord {
  return {
    kid: row.kid,
    publicKeyPem: row.public_key,
    createdBy: row.created_by,
    createdAt: toDate(row.created_at),
    expiresAt: toDate(row.expires_at),
  };
}

/** ServiceKeyStore on the service_key table: the public halves of every instance's token signing keys. */
export class KyselyServiceKeyStore implements ServiceKeyStore {
  constructor(private readonly database: Database) {}

  async publish(key: ServiceKeyRecord): Promise<void> {
    const expiresAt = key.expiresAt.getTime();
    const insert = this.database.db.insertInto('service_key').values({
      kid: key.kid,
      public_key: key.publicKeyPem,
      created_by: key.createdBy,
      created_at: key.createdAt.getTime(),
      expires_at: expiresAt,
    });
    // A kid names one key pair for good, so publishing it again may only move its expiry (a renewal).
    await retryOnDeadlock(() =>
      (this.database.dialect === 'mysql'
        ? insert.onDuplicateKeyUpdate({ expires_at: expiresAt })
        : insert.onConflict((oc) => oc.column('kid').doUpdateSet({ expires_at: expiresAt }))
      ).execute(),
    );
  }

  async get(kid: string): Promise<ServiceKeyRecord | undefined> {
    const row = await this.database.db.selectFrom('service_key').select(COLUMNS).where('kid', '=', kid).executeTakeFirst();
    return row && toRecord(row);
  }

  async listActive(now: Date): Promise<ServiceKeyRecord[]> {
    const rows = await this.database.db
      .selectFrom('service_key')
      .select(COLUMNS)
      .where('expires_at', '>', now.getTime())
      .orderBy('created_at', 'desc')
      .orderBy('kid', 'desc')
      .execute();
    return rows.map(toRecord);
  }

  async deleteExpired(before: Date): Promise<number> {
    const result = await this.database.db
      .deleteFrom('service_key')
      .where('expires_at', '<', before.getTime())
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
