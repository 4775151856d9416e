import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * A namespace's own storage locations, as Quay has them (its `UserRegion` table, read by
 * `get_region_locations`): one row per (user or organization, location name in DISTRIBUTED_STORAGE_CONFIG).
 * A blob pushed into the namespace must be in DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS plus these
 * (docs/geo-replication.md). Quay's row points at an ImageStorageLocation row; Quayside has no such table (a
 * location is its name, as in blob_placement), so the name is stored. The rows go with their account (ON
 * DELETE CASCADE); the index on location serves the backfill, which asks which namespaces list a location.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const name = dialect === 'postgres' ? sql`varchar(255) collate "C"` : sql`varchar(255)`;
  await db.schema
    .createTable('user_region')
    .addColumn('account_id', 'integer', (c) => c.notNull().references('account.id').onDelete('cascade'))
    .addColumn('location', name, (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('user_region_pk', ['account_id', 'location'])
    .$call((table) => (dialect === 'mysql' ? table.modifyEnd(sql`engine = InnoDB default character set utf8mb4 collate utf8mb4_bin`) : table))
    .execute();
  await db.schema.createIndex('user_region_location').on('user_region').columns(['location', 'account_id']).execute();
}
