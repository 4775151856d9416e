import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { migrateToLatest, pendingMigrations } from '../../src/db/migrate.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

for (const dialect of ALL_DIALECTS) {
  describe(`migrations on ${dialect}`, () => {
    let fresh: FreshDatabase;
    before(async () => {
      fresh = await freshDatabase(dialect, { migrate: false });
    });
    after(() => fresh.drop());

    it('lists every migration as pending on an empty database', async () => {
      assert.deepEqual(await pendingMigrations(fresh.database), ['0001_initial', '0002_accounts', '0003_account_superuser', '0004_upload_hash_state', '0005_gc_touch', '0006_geo_replication', '0007_tag_expiration', '0010_pull_statistics', '0011_user_region', '0012_instance_registry', '0013_swift_auth_token']);
    });

    it('applies each migration once when two instances (processes) migrate at the same time', async () => {
      const runs = await Promise.all([migrateInChild(fresh.uri), migrateInChild(fresh.uri)]);
      assert.deepEqual(runs.flatMap((r) => r.applied), ['0001_initial', '0002_accounts', '0003_account_superuser', '0004_upload_hash_state', '0005_gc_touch', '0006_geo_replication', '0007_tag_expiration', '0010_pull_statistics', '0011_user_region', '0012_instance_registry', '0013_swift_auth_token']);
      assert.deepEqual(runs.flatMap((r) => r.lines), ['applied migration 0001_initial', 'applied migration 0002_accounts', 'applied migration 0003_account_superuser', 'applied migration 0004_upload_hash_state', 'applied migration 0005_gc_touch', 'applied migration 0006_geo_replication', 'applied migration 0007_tag_expiration', 'applied migration 0010_pull_statistics', 'applied migration 0011_user_region', 'applied migration 0012_instance_registry', 'applied migration 0013_swift_auth_token']);
      assert.deepEqual(await pendingMigrations(fresh.database), []);
    });

    it('is a no-op once everything is applied', async () => {
      const lines: string[] = [];
      assert.deepEqual(await migrateToLatest(fresh.database, (l) => lines.push(l)), []);
      assert.deepEqual(lines, []);
      assert.deepEqual(await pendingMigrations(fresh.database), []);
    });

    it('creates the tables the metadata layer uses', async () => {
      const tables = [
        ...['repository', 'blob', 'repository_blob', 'upload', 'manifest', 'manifest_reference', 'tag'],
        ...['account', 'team', 'team_member', 'repository_permission', 'permission_prototype', 'app_token'],
        ...['service_key', 'audit_log', 'login_throttle', 'session', 'blob_placement', 'replication_job', 'user_region'],
      ];
      for (const table of tables) {
        const result = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(fresh.database.db);
        assert.equal(Number(result.rows[0]?.n), 0, table);
      }
    });
  });
}

/** Runs migrateToLatest in a separate Node process (its own pool, like another instance); returns what it applied and reported. */
async function migrateInChild(uri: string): Promise<{ applied: string[]; lines: string[] }> {
  const dbModule = new URL('../../src/db/database.js', import.meta.url).href;
  const migrateModule = new URL('../../src/db/migrate.js', import.meta.url).href;
  const script = `
    const { openDatabase } = await import(${JSON.stringify(dbModule)});
    const { migrateToLatest } = await import(${JSON.stringify(migrateModule)});
    const database = await openDatabase({ uri: process.argv[1] });
    const lines = [];
    try {
      const applied = await migrateToLatest(database, (line) => lines.push(line));
      console.log(JSON.stringify({ applied, lines }));
    } finally {
      await database.close();
    }
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, uri]);
  const parsed = JSON.parse(stdout) as { applied: unknown; lines: unknown };
  assert.ok(Array.isArray(parsed.applied) && Array.isArray(parsed.lines), stdout);
  return { applied: parsed.applied.map(String), lines: parsed.lines.map(String) };
}
