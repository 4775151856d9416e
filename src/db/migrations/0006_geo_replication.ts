import { sql, type Kysely, type CreateTableBuilder } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Geo-replication (docs/geo-replication.md).
 *
 * blob_placement: one row per (blob digest, storage location) that holds the blob's bytes. No foreign key to
 * blob: a push commits the object (and records its placement) before it records the blob row, and garbage
 * collection deletes a blob's placements in the same transaction as the blob row. Blobs pushed before this
 * migration have no placement at all; the placement-aware store then looks for them in every location, in
 * this instance's preference order, and records where it found them.
 *
 * replication_job: one row per (blob, target location) still to copy; the unique key is what makes enqueueing
 * idempotent (no duplicate pending job). A job is deleted when its copy is verified and its placement recorded.
 * lease_owner/lease_expires_at say which instance copies it until when: a job whose lease expired (its instance
 * died) is claimable again. state is 'queued' while it will be retried, 'failed' after the last attempt.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const name = dialect === 'postgres' ? sql`varchar(255) collate "C"` : sql`varchar(255)`;
  const options = (table: CreateTableBuilder<string, never>) =>
    dialect === 'mysql' ? table.modifyEnd(sql`engine = InnoDB default character set utf8mb4 collate utf8mb4_bin`) : table;

  await db.schema
    .createTable('blob_placement')
    .addColumn('digest', name, (c) => c.notNull())
    .addColumn('location', name, (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('blob_placement_pk', ['digest', 'location'])
    .$call(options)
    .execute();
  await db.schema.createIndex('blob_placement_location').on('blob_placement').columns(['location', 'digest']).execute();

  await db.schema
    .createTable('replication_job')
    .$call((table) =>
      dialect === 'postgres'
        ? table.addColumn('id', 'serial', (c) => c.primaryKey())
        : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()),
    )
    .addColumn('digest', name, (c) => c.notNull())
    .addColumn('location', name, (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull().defaultTo('queued'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('lease_owner', 'varchar(255)')
    .addColumn('lease_expires_at', 'bigint')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('replication_job_target', ['digest', 'location'])
    .$call(options)
    .execute();
  await db.schema.createIndex('replication_job_due').on('replication_job').columns(['state', 'next_attempt_at']).execute();
}
