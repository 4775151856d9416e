import { sql, type Kysely, type CreateTableBuilder } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Column types that behave the same on the three dialects:
 * - names and digests are varchar(255) (255 utf8mb4 characters = 1020 bytes, within InnoDB's 3072-byte
 *   index limit) compared byte-wise: COLLATE "C" on PostgreSQL (its default collation is locale-aware),
 *   utf8mb4_bin on MySQL (set per table below), SQLite's default BINARY;
 * - manifest bytes are bytea / longblob (MySQL's plain blob stops at 64 KiB) / blob;
 * - ids are serial on PostgreSQL and integer auto-increment elsewhere (SQLite needs exactly
 *   "integer primary key" for the rowid alias).
 */
function types(dialect: Dialect) {
  return {
    name: dialect === 'postgres' ? sql`varchar(255) collate "C"` : sql`varchar(255)`,
    bytes: dialect === 'postgres' ? sql`bytea` : dialect === 'mysql' ? sql`longblob` : sql`blob`,
    json: dialect === 'mysql' ? sql`mediumtext` : sql`text`,
  };
}

type Builder = CreateTableBuilder<string, never>;

/** MySQL tables are InnoDB (transactions, foreign keys) with a binary utf8mb4 collation. */
function tableOptions(dialect: Dialect): (table: Builder) => Builder {
  return (table) =>
    dialect === 'mysql'
      ? table.modifyEnd(sql`engine = InnoDB default character set utf8mb4 collate utf8mb4_bin`)
      : table;
}

function withId(dialect: Dialect): (table: Builder) => Builder {
  return (table) =>
    dialect === 'postgres'
      ? table.addColumn('id', 'serial', (c) => c.primaryKey())
      : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

/** Creates the registry's tables: repositories, blobs and their links, uploads, manifests, tags with history. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = types(dialect);
  const options = tableOptions(dialect);
  const id = withId(dialect);

  await db.schema
    .createTable('repository')
    .$call(id)
    .addColumn('name', t.name, (c) => c.notNull().unique())
    .addColumn('namespace', t.name, (c) => c.notNull())
    .addColumn('visibility', 'varchar(16)', (c) => c.notNull().defaultTo('private'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .$call(options)
    .execute();

  await db.schema
    .createTable('blob')
    .addColumn('digest', t.name, (c) => c.primaryKey())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .$call(options)
    .execute();

  // The link to blob is RESTRICT on purpose: forgetting a blob that a repository still links fails loudly
  // instead of leaving the repository pointing at storage that is gone.
  await db.schema
    .createTable('repository_blob')
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repository.id').onDelete('cascade'))
    .addColumn('digest', t.name, (c) => c.notNull().references('blob.digest'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('repository_blob_pk', ['repository_id', 'digest'])
    .$call(options)
    .execute();
  await db.schema.createIndex('repository_blob_digest').on('repository_blob').column('digest').execute();

  await db.schema
    .createTable('upload')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repository.id').onDelete('cascade'))
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .$call(options)
    .execute();
  await db.schema.createIndex('upload_updated_at').on('upload').column('updated_at').execute();

  await db.schema
    .createTable('manifest')
    .$call(id)
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repository.id').onDelete('cascade'))
    .addColumn('digest', t.name, (c) => c.notNull())
    .addColumn('media_type', t.name, (c) => c.notNull())
    .addColumn('artifact_type', t.name)
    .addColumn('subject_digest', t.name)
    .addColumn('annotations', t.json)
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('bytes', t.bytes, (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('manifest_repository_digest', ['repository_id', 'digest'])
    .$call(options)
    .execute();
  await db.schema
    .createIndex('manifest_subject')
    .on('manifest')
    .columns(['repository_id', 'subject_digest'])
    .execute();

  await db.schema
    .createTable('manifest_reference')
    .addColumn('manifest_id', 'integer', (c) => c.notNull().references('manifest.id').onDelete('cascade'))
    .addColumn('digest', t.name, (c) => c.notNull())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addPrimaryKeyConstraint('manifest_reference_pk', ['manifest_id', 'digest', 'kind'])
    .$call(options)
    .execute();
  await db.schema.createIndex('manifest_reference_digest').on('manifest_reference').column('digest').execute();

  await db.schema
    .createTable('tag')
    .$call(id)
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repository.id').onDelete('cascade'))
    .addColumn('name', t.name, (c) => c.notNull())
    .addColumn('manifest_digest', t.name, (c) => c.notNull())
    .addColumn('lifetime_start', 'bigint', (c) => c.notNull())
    .addColumn('lifetime_end', 'bigint')
    .$call(options)
    .execute();
  await db.schema.createIndex('tag_repository_name').on('tag').columns(['repository_id', 'name']).execute();
  await db.schema
    .createIndex('tag_repository_manifest')
    .on('tag')
    .columns(['repository_id', 'manifest_digest'])
    .execute();
  // "At most one current tag per name" is enforced by the tag code (row lock on the repository); where the
  // dialect has partial indexes the database enforces it too. MySQL has none.
  if (dialect !== 'mysql') {
    await db.schema
      .createIndex('tag_current')
      .on('tag')
      .columns(['repository_id', 'name'])
      .unique()
      .where(sql.ref('lifetime_end'), 'is', null)
      .execute();
  }
}
