import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * The registry of serving instances (docs/health.md): every `quayside serve` (its primary process, once per
 * instance) keeps one row here, written at start and on every heartbeat with its latest health results, so the
 * superuser status page can show the whole fleet and not only the instance that answered. A row not written
 * for INSTANCE_PURGE_AFTER_S is deleted by any live instance's heartbeat.
 *
 * `addresses` and `health` are JSON text: they are written and read whole, never queried.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const name = dialect === 'postgres' ? sql`varchar(255) collate "C"` : sql`varchar(255)`;
  const mysqlTable = sql`engine = InnoDB default character set utf8mb4 collate utf8mb4_bin`;
  await db.schema
    .createTable('serving_instance')
    .addColumn('id', sql`varchar(64)`, (c) => c.primaryKey())
    .addColumn('hostname', name, (c) => c.notNull())
    .addColumn('addresses', 'text', (c) => c.notNull())
    .addColumn('version', sql`varchar(64)`, (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
    .addColumn('health', 'text', (c) => c.notNull())
    .$call((table) => (dialect === 'mysql' ? table.modifyEnd(mysqlTable) : table))
    .execute();
  await db.schema.createIndex('serving_instance_last_seen').on('serving_instance').column('last_seen_at').execute();
}
