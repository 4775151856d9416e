import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Gives blobs and repository links the time they were last recorded or linked (touched_at; null on rows written
 * before this migration, which then count from created_at). Garbage collection spares a blob or link touched
 * within the push grace period: a client that uploads a layer again, or mounts it, and pushes its manifest
 * right after must find it still there (see docs/gc.md).
 *
 * gc_lease holds the leases of the GC worker: one row per repository being collected (and one for the blob
 * sweep), owned by one instance until expires_at, so instances sharing the database take different work.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.alterTable('blob').addColumn('touched_at', 'bigint').execute();
  await db.schema.alterTable('repository_blob').addColumn('touched_at', 'bigint').execute();
  await db.schema
    .createTable('gc_lease')
    .addColumn('name', dialect === 'postgres' ? sql`varchar(255) collate "C"` : sql`varchar(255)`, (c) => c.primaryKey())
    .addColumn('holder', 'varchar(255)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .$call((table) => (dialect === 'mysql' ? table.modifyEnd(sql`engine = InnoDB default character set utf8mb4 collate utf8mb4_bin`) : table))
    .execute();
}
