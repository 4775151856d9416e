import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Pull statistics, as Quay keeps them (TagPullStatistics, ManifestPullStatistics): how often and when last a
 * tag and a manifest were pulled. Rows are written in batches by the pull-statistics flusher (src/stats/),
 * never on the pull itself. Both go with what they count: a tag's with its repository, a manifest's with the
 * manifest (garbage collection included).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const name = dialect === 'postgres' ? sql`varchar(255) collate "C"` : sql`varchar(255)`;
  const mysqlTable = sql`engine = InnoDB default character set utf8mb4 collate utf8mb4_bin`;
  await db.schema
    .createTable('tag_pull_statistics')
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repository.id').onDelete('cascade'))
    .addColumn('tag_name', name, (c) => c.notNull())
    .addColumn('tag_pull_count', 'bigint', (c) => c.notNull())
    .addColumn('last_tag_pull_date', 'bigint', (c) => c.notNull())
    .addColumn('current_manifest_digest', name, (c) => c.notNull())
    .addPrimaryKeyConstraint('tag_pull_statistics_pk', ['repository_id', 'tag_name'])
    .$call((table) => (dialect === 'mysql' ? table.modifyEnd(mysqlTable) : table))
    .execute();
  await db.schema
    .createTable('manifest_pull_statistics')
    .addColumn('manifest_id', 'integer', (c) => c.primaryKey().references('manifest.id').onDelete('cascade'))
    .addColumn('manifest_pull_count', 'bigint', (c) => c.notNull())
    .addColumn('last_manifest_pull_date', 'bigint', (c) => c.notNull())
    .$call((table) => (dialect === 'mysql' ? table.modifyEnd(mysqlTable) : table))
    .execute();
}
