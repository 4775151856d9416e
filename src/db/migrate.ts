import { Migrator, sql, type Kysely, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import type { Database, Dialect } from './database.js';
import * as initial from './migrations/0001_initial.js';
import * as accounts from './migrations/0002_accounts.js';
import * as accountSuperuser from './migrations/0003_account_superuser.js';
import * as uploadHashState from './migrations/0004_upload_hash_state.js';
import * as gcTouch from './migrations/0005_gc_touch.js';
import * as geoReplication from './migrations/0006_geo_replication.js';
import * as tagExpiration from './migrations/0007_tag_expiration.js';
import * as pullStatistics from './migrations/0010_pull_statistics.js';
import * as userRegion from './migrations/0011_user_region.js';
import * as instanceRegistry from './migrations/0012_instance_registry.js';
import * as swiftAuthToken from './migrations/0013_swift_auth_token.js';
import type { Schema } from './schema.js';

/** A migration module: its up() gets the dialect because column types differ slightly between dialects. */
interface DialectMigration {
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
}

/** Every migration, in order. Names are stored in quayside_migration; never rename or reorder them. */
const MIGRATIONS: Record<string, DialectMigration> = {
  '0001_initial': initial,
  '0002_accounts': accounts,
  '0003_account_superuser': accountSuperuser,
  '0004_upload_hash_state': uploadHashState,
  '0005_gc_touch': gcTouch,
  '0006_geo_replication': geoReplication,
  '0007_tag_expiration': tagExpiration,
  '0010_pull_statistics': pullStatistics,
  '0011_user_region': userRegion,
  '0012_instance_registry': instanceRegistry,
  '0013_swift_auth_token': swiftAuthToken,
};

class StaticProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    return Object.fromEntries(
      Object.entries(MIGRATIONS).map(([name, m]) => [name, { up: (db: Kysely<unknown>) => m.up(db, this.dialect) }]),
    );
  }
}

/**
 * Kysely's Migrator takes a cluster-wide lock on PostgreSQL (advisory lock) and MySQL (GET_LOCK), so several
 * instances starting at once apply each migration exactly once. On SQLite it takes none, so the whole run
 * happens inside BEGIN IMMEDIATE on the single connection: another process waits (busy_timeout), then sees
 * the migrations done, and a failed migration leaves nothing behind.
 */
function migrator(database: Database, db: Kysely<Schema> = database.db): Migrator {
  return new Migrator({
    db,
    provider: new StaticProvider(database.dialect),
    migrationTableName: 'quayside_migration',
    migrationLockTableName: 'quayside_migration_lock',
  });
}

async function runToLatest(database: Database): Promise<MigrationResultSet> {
  if (database.dialect !== 'sqlite') return migrator(database).migrateToLatest();
  return database.db.connection().execute(async (connection) => {
    await sql`begin immediate`.execute(connection);
    let outcome: MigrationResultSet;
    try {
      outcome = await migrator(database, connection).migrateToLatest();
    } catch (error) {
      await sql`rollback`.execute(connection);
      throw error;
    }
    await sql.raw(outcome.error === undefined ? 'commit' : 'rollback').execute(connection);
    return outcome;
  });
}

/** Applies all pending migrations; onProgress gets one line per migration applied. Returns the names applied. */
export async function migrateToLatest(database: Database, onProgress?: (line: string) => void): Promise<string[]> {
  const { error, results } = await runToLatest(database);
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`database migration ${failed ?? ''} failed: ${reason}`.replace('  ', ' '), { cause: error });
  }
  const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  for (const name of applied) onProgress?.(`applied migration ${name}`);
  return applied;
}

/** Names of the migrations not yet applied, in the order they would run. */
export async function pendingMigrations(database: Database): Promise<string[]> {
  const all = await migrator(database).getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}
