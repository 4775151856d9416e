import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * The Swift auth token shared by the whole fleet (docs/storage-swift.md): one row per set of credentials,
 * keyed by a hash of their identity (auth URL, version, user, scope, region; never the password), holding the
 * token and its storage URL sealed with AES-256-GCM under a key derived from the credentials, so that reading
 * the database is not enough to use the token. `fingerprint` (an HMAC of the token under the same derived
 * secret) lets an instance that saw the token refused delete exactly that token and not a newer one.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const mysqlTable = sql`engine = InnoDB default character set utf8mb4 collate utf8mb4_bin`;
  await db.schema
    .createTable('swift_auth_token')
    .addColumn('cache_key', sql`varchar(64)`, (c) => c.primaryKey())
    .addColumn('sealed', 'text', (c) => c.notNull())
    .addColumn('fingerprint', sql`varchar(64)`, (c) => c.notNull())
    // Epoch ms; null when the auth service did not say (the token is used until Swift refuses it).
    .addColumn('expires_at', 'bigint')
    .addColumn('written_at', 'bigint', (c) => c.notNull())
    .$call((table) => (dialect === 'mysql' ? table.modifyEnd(mysqlTable) : table))
    .execute();
  await db.schema.createIndex('swift_auth_token_expires').on('swift_auth_token').column('expires_at').execute();
}
