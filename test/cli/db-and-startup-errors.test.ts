// `quayside db migrate|status` on every dialect, and the startup refusals of `quayside serve` (bad DB_URI,
// unreachable database, storage driver not available, pending migrations with --no-migrate).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { assertOneLineFailure, runQuayside } from '../helpers/cli.js';
import type { RunResult } from '../helpers/processes.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'quayside-cli-db-'));
});
after(() => rm(work, { recursive: true, force: true }));

/** Runs the built CLI in the temp dir. */
function quayside(...args: string[]): Promise<RunResult> {
  return runQuayside(work, ...args);
}

async function configFile(name: string, lines: string[]): Promise<string> {
  const path = join(work, name);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

/** A data dir path that does not exist yet. */
function freshDataDir(): string {
  return join(work, `data-${randomBytes(4).toString('hex')}`);
}

describe('quayside db', () => {
  it('migrate then status on a fresh SQLite data dir', async () => {
    const dataDir = freshDataDir();
    const migrate = await quayside('db', 'migrate', '--data-dir', dataDir);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.equal(migrate.stderr, '');
    assert.match(migrate.stdout, /^applied migration \S+$/m);
    assert.match(migrate.stdout, /database is up to date\n$/);
    assert.ok(migrate.stdout.startsWith(`database: sqlite ${join(dataDir, 'quayside.db')}\n`), migrate.stdout);
    assert.ok(existsSync(join(dataDir, 'quayside.db')), 'quayside.db created in the data dir');

    const status = await quayside('db', 'status', '--data-dir', dataDir);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.stdout, 'no pending migrations\n');

    // A second migrate has nothing to apply.
    const again = await quayside('db', 'migrate', '--data-dir', dataDir);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /applied migration/);
    assert.match(again.stdout, /database is up to date/);
  });

  it('status on a fresh data dir lists the pending migrations (exit 0)', async () => {
    const status = await quayside('db', 'status', '--data-dir', freshDataDir());
    assert.equal(status.code, 0, status.stderr);
    assert.doesNotMatch(status.stdout, /no pending/);
    assert.match(status.stdout, /^\d{4}_\S+$/m);
  });

  for (const dialect of ['postgres', 'mysql'] as const) {
    describe(dialect, () => {
      let fresh: FreshDatabase;
      before(async () => {
        fresh = await freshDatabase(dialect, { migrate: false });
      });
      after(() => fresh.drop());

      it('migrate then status against a fresh database', async () => {
        const config = await configFile(`db-${dialect}.yaml`, [`DB_URI: ${fresh.uri}`]);
        const dataDir = freshDataDir();
        const migrate = await quayside('db', 'migrate', '--config', config, '--data-dir', dataDir);
        assert.equal(migrate.code, 0, migrate.stderr);
        assert.match(migrate.stdout, /^applied migration \S+$/m);
        const status = await quayside('db', 'status', '--config', config);
        assert.equal(status.code, 0, status.stderr);
        assert.equal(status.stdout, 'no pending migrations\n');
        // The server database was used: no embedded SQLite file appeared.
        assert.ok(!existsSync(join(dataDir, 'quayside.db')));
        // And the tables are really there.
        const tables = await fresh.database.db.introspection.getTables();
        assert.ok(tables.length > 0, 'migrations created tables');
      });
    });
  }

  it('refuses a data dir that is a file: one line', async () => {
    const notADir = await configFile('plain-file', ['not a directory']);
    assertOneLineFailure(await quayside('db', 'migrate', '--data-dir', notADir), 'non-zero', /plain-file/);
  });
});

describe('quayside serve refuses to start', () => {
  const serve = (...args: string[]) => quayside('serve', '--address', '127.0.0.1', '--port', '0', ...args);

  it('with a DB_URI scheme it does not support', async () => {
    const config = await configFile('oracle.yaml', ['DB_URI: oracle://scott:tiger@db.example.com/orcl']);
    const line = assertOneLineFailure(await serve('--config', config, '--data-dir', freshDataDir()), 'non-zero', /DB_URI/, /oracle/);
    assert.doesNotMatch(line, /tiger/, 'the password never appears');
  });

  it('with a PostgreSQL database that does not exist', async () => {
    const name = `quayside_t_missing_${randomBytes(4).toString('hex')}`;
    const config = await configFile('pg-missing.yaml', [`DB_URI: postgresql://postgres@127.0.0.1:5432/${name}`]);
    assertOneLineFailure(await serve('--config', config, '--data-dir', freshDataDir()), 'non-zero', new RegExp(name));
  });

  it('with a PostgreSQL port that refuses connections: a connection error, not a migration failure', async () => {
    const config = await configFile('pg-refused.yaml', ['DB_URI: postgresql://postgres:s3cret@127.0.0.1:1/quay']);
    const line = assertOneLineFailure(
      await serve('--config', config, '--data-dir', freshDataDir()),
      1,
      /^database: cannot connect to postgres database quay on 127\.0\.0\.1:1 as postgres: /,
      /ECONNREFUSED|refused/,
    );
    assert.doesNotMatch(line, /migration/);
    assert.doesNotMatch(line, /s3cret/, 'the password never appears');
  });

  it('with a storage directory it cannot write: one line, before touching the database', async () => {
    const dataDir = freshDataDir();
    // A file where the storage directory should be fails for root too (permissions would not).
    const blocked = await configFile('blocked-storage', ['a file, not a directory']);
    const config = await configFile('unwritable.yaml', [
      'DISTRIBUTED_STORAGE_CONFIG:',
      `  local: [LocalStorage, {storage_path: ${join(blocked, 'storage')}}]`,
      'DISTRIBUTED_STORAGE_PREFERENCE: [local]',
    ]);
    const result = await serve('--config', config, '--data-dir', dataDir);
    assertOneLineFailure(result, 1, new RegExp(`^storage location local: LocalStorage directory ${join(blocked, 'storage').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not writable: not a directory$`));
    assert.ok(!existsSync(join(dataDir, 'quayside.db')), 'no database created');
  });

  it('with a storage driver that is not available yet, before touching the database', async () => {
    const config = await configFile('s3.yaml', [
      'DISTRIBUTED_STORAGE_CONFIG:',
      '  us-east:',
      '    - AzureStorage',
      '    - {azure_container: quay, storage_path: /registry, azure_account_name: quay}',
      'DISTRIBUTED_STORAGE_PREFERENCE: [us-east]',
    ]);
    const dataDir = freshDataDir();
    const result = await serve('--config', config, '--data-dir', dataDir);
    assertOneLineFailure(result, 'non-zero', /AzureStorage is not available/, /us-east/);
    // A configuration that cannot start must not leave a migrated database behind.
    assert.doesNotMatch(result.stdout, /applied migration/);
    assert.ok(!existsSync(join(dataDir, 'quayside.db')), 'no database created for a refused configuration');
  });

  it('with --no-migrate on a fresh data dir, telling to run quayside db migrate', async () => {
    const dataDir = freshDataDir();
    const result = await serve('--no-migrate', '--data-dir', dataDir);
    assertOneLineFailure(result, 'non-zero', /pending/, /quayside db migrate/);
    assert.doesNotMatch(result.stdout, /listening/);
    // Nothing was migrated: status still lists the pending migrations.
    const status = await quayside('db', 'status', '--data-dir', dataDir);
    assert.doesNotMatch(status.stdout, /no pending/);
  });

  it('with a config file that does not exist', async () => {
    assertOneLineFailure(await serve('--config', join(work, 'nope.yaml'), '--data-dir', freshDataDir()), 'non-zero', /nope\.yaml/, /no such file/);
  });

  it('with an invalid config, naming the file and the key', async () => {
    const config = await configFile('wrong-type.yaml', ['FEATURE_REFERRERS_API: maybe']);
    assertOneLineFailure(await serve('--config', config, '--data-dir', freshDataDir()), 'non-zero', /wrong-type\.yaml/, /FEATURE_REFERRERS_API/);
  });
});
