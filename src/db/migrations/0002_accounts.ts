import { sql, type Kysely, type CreateTableBuilder } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * The same portable column types as 0001 (repeated here: a migration is frozen once released, so it must
 * not change when a later one edits a shared helper): binary-collated varchar(255) names, JSON as text
 * (mediumtext on MySQL, whose text stops at 64 KiB), and long free text the same way.
 */
function types(dialect: Dialect) {
  return {
    name: dialect === 'postgres' ? sql`varchar(255) collate "C"` : sql`varchar(255)`,
    json: dialect === 'mysql' ? sql`mediumtext` : sql`text`,
    /** Free text that may pass 64 KiB of bytes (a repository description). */
    longText: dialect === 'mysql' ? sql`mediumtext` : sql`text`,
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

/** The audit log only grows, so its id is 64-bit where that is a choice (SQLite's rowid always is). */
function withBigId(dialect: Dialect): (table: Builder) => Builder {
  return (table) =>
    dialect === 'postgres'
      ? table.addColumn('id', 'bigserial', (c) => c.primaryKey())
      : dialect === 'mysql'
        ? table.addColumn('id', 'bigint', (c) => c.primaryKey().autoIncrement())
        : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

/**
 * Creates the accounts model: accounts (users, organizations and robots in one table, as Quay does, so that
 * a name is unique across all three), teams and their members, repository permissions and prototypes, app
 * tokens, service keys, the audit log, login throttling and API sessions; and gives repositories their
 * description (set through the API).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const t = types(dialect);
  const options = tableOptions(dialect);
  const id = withId(dialect);
  // MySQL 8 refuses CHECK constraints on columns with a foreign-key action; there the code alone keeps
  // exactly one delegate per row.
  const oneDelegate = (name: string) => (table: Builder): Builder =>
    dialect === 'mysql' ? table : table.addCheckConstraint(name, sql`(account_id is null) <> (team_id is null)`);

  await db.schema
    .createTable('account')
    .$call(id)
    .addColumn('name', t.name, (c) => c.notNull().unique())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('email', 'varchar(255)')
    .addColumn('password_hash', 'varchar(255)')
    .addColumn('token_hash', 'varchar(64)')
    // A robot goes with its owner.
    .addColumn('owner_id', 'integer', (c) => c.references('account.id').onDelete('cascade'))
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('description', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .$call(options)
    .execute();
  await db.schema.createIndex('account_owner').on('account').column('owner_id').execute();
  await db.schema.createIndex('account_kind_name').on('account').columns(['kind', 'name']).execute();

  await db.schema
    .createTable('team')
    .$call(id)
    .addColumn('organization_id', 'integer', (c) => c.notNull().references('account.id').onDelete('cascade'))
    .addColumn('name', t.name, (c) => c.notNull())
    .addColumn('role', 'varchar(16)', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('team_organization_name', ['organization_id', 'name'])
    .$call(options)
    .execute();

  await db.schema
    .createTable('team_member')
    .addColumn('team_id', 'integer', (c) => c.notNull().references('team.id').onDelete('cascade'))
    .addColumn('account_id', 'integer', (c) => c.notNull().references('account.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('team_member_pk', ['team_id', 'account_id'])
    .$call(options)
    .execute();
  await db.schema.createIndex('team_member_account').on('team_member').column('account_id').execute();

  // Exactly one of account_id and team_id is set; NULLs never collide in a unique constraint, so each pair
  // constraint only binds the rows of its own delegate kind.
  await db.schema
    .createTable('repository_permission')
    .$call(id)
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repository.id').onDelete('cascade'))
    .addColumn('account_id', 'integer', (c) => c.references('account.id').onDelete('cascade'))
    .addColumn('team_id', 'integer', (c) => c.references('team.id').onDelete('cascade'))
    .addColumn('role', 'varchar(16)', (c) => c.notNull())
    .addUniqueConstraint('repository_permission_account', ['repository_id', 'account_id'])
    .addUniqueConstraint('repository_permission_team', ['repository_id', 'team_id'])
    .$call(oneDelegate('repository_permission_one_delegate'))
    .$call(options)
    .execute();
  await db.schema.createIndex('repository_permission_account_id').on('repository_permission').column('account_id').execute();
  await db.schema.createIndex('repository_permission_team_id').on('repository_permission').column('team_id').execute();

  await db.schema
    .createTable('permission_prototype')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('organization_id', 'integer', (c) => c.notNull().references('account.id').onDelete('cascade'))
    .addColumn('account_id', 'integer', (c) => c.references('account.id').onDelete('cascade'))
    .addColumn('team_id', 'integer', (c) => c.references('team.id').onDelete('cascade'))
    .addColumn('role', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .$call(oneDelegate('permission_prototype_one_delegate'))
    .$call(options)
    .execute();
  await db.schema.createIndex('permission_prototype_organization').on('permission_prototype').column('organization_id').execute();
  await db.schema.createIndex('permission_prototype_account').on('permission_prototype').column('account_id').execute();
  await db.schema.createIndex('permission_prototype_team').on('permission_prototype').column('team_id').execute();

  await db.schema
    .createTable('app_token')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('account.id').onDelete('cascade'))
    .addColumn('title', 'varchar(255)', (c) => c.notNull())
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .$call(options)
    .execute();
  await db.schema.createIndex('app_token_account').on('app_token').column('account_id').execute();

  await db.schema
    .createTable('service_key')
    .addColumn('kid', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('public_key', t.json, (c) => c.notNull())
    .addColumn('created_by', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .$call(options)
    .execute();
  await db.schema.createIndex('service_key_expires_at').on('service_key').column('expires_at').execute();

  // No foreign key to account: the log must outlive the accounts it mentions, so it keeps their names.
  await db.schema
    .createTable('audit_log')
    .$call(withBigId(dialect))
    .addColumn('kind', 'varchar(64)', (c) => c.notNull())
    .addColumn('performer_id', 'integer')
    .addColumn('performer_name', t.name)
    .addColumn('performer_kind', 'varchar(16)')
    .addColumn('namespace', t.name)
    .addColumn('repository', t.name)
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('client_address', 'varchar(64)')
    .addColumn('metadata', t.json, (c) => c.notNull())
    .$call(options)
    .execute();
  await db.schema.createIndex('audit_log_namespace').on('audit_log').columns(['namespace', 'id']).execute();
  await db.schema.createIndex('audit_log_repository').on('audit_log').columns(['repository', 'id']).execute();
  await db.schema.createIndex('audit_log_performer').on('audit_log').columns(['performer_name', 'id']).execute();
  await db.schema.createIndex('audit_log_created_at').on('audit_log').column('created_at').execute();

  await db.schema
    .createTable('login_throttle')
    .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('last_failure_at', 'bigint', (c) => c.notNull())
    .$call(options)
    .execute();

  await db.schema
    .createTable('session')
    .addColumn('id_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('account.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .$call(options)
    .execute();
  await db.schema.createIndex('session_expires_at').on('session').column('expires_at').execute();
  await db.schema.createIndex('session_account').on('session').column('account_id').execute();

  // Nullable without a default, so every dialect adds it as null to existing rows in place. Not text on
  // MySQL: that holds 64 KiB of bytes, less than the API's limit in characters once they are multi-byte.
  await db.schema.alterTable('repository').addColumn('description', t.longText).execute();
}
