import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import {
  DatabaseConfigError,
  openDatabase,
  parseDatabaseConfig,
  type DatabaseConfig,
  type DatabaseOptions,
} from '../../src/db/database.js';
import { POSTGRES_ADMIN_URI } from '../helpers/databases.js';

const SECRET = 's3cr3t-Pa55';

function server(options: DatabaseOptions): Extract<DatabaseConfig, { dialect: 'postgres' | 'mysql' }> {
  const config = parseDatabaseConfig(options);
  assert.notEqual(config.dialect, 'sqlite');
  if (config.dialect === 'sqlite') throw new Error('unreachable');
  return config;
}

/** Asserts a DatabaseConfigError whose message matches and never leaks the password. */
function rejects(options: DatabaseOptions, message: RegExp): void {
  assert.throws(() => parseDatabaseConfig(options), (error: unknown) => {
    assert.ok(error instanceof DatabaseConfigError, String(error));
    assert.match(error.message, message);
    assert.ok(!error.message.includes(SECRET), `password leaked: ${error.message}`);
    return true;
  });
}

describe('DB_URI parsing', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quayside-uri-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads SQLAlchemy sqlite forms', () => {
    assert.deepEqual(parseDatabaseConfig({ uri: 'sqlite:///data/quay.db' }), {
      dialect: 'sqlite', filename: resolve('data/quay.db'), busyTimeoutMs: 5000,
    });
    assert.equal(parseDatabaseConfig({ uri: 'sqlite:////var/lib/quay.db' }).dialect, 'sqlite');
    assert.deepEqual(parseDatabaseConfig({ uri: 'sqlite:////var/lib/quay.db' }), { dialect: 'sqlite', filename: '/var/lib/quay.db', busyTimeoutMs: 5000 });
    assert.deepEqual(parseDatabaseConfig({ uri: 'sqlite:///:memory:' }), { dialect: 'sqlite', filename: ':memory:', busyTimeoutMs: 5000 });
    assert.deepEqual(parseDatabaseConfig({ uri: 'sqlite://' }), { dialect: 'sqlite', filename: ':memory:', busyTimeoutMs: 5000 });
    assert.deepEqual(parseDatabaseConfig({ uri: 'sqlite:///x.db', connectionArgs: { timeout: 2, threadlocals: true } }), {
      dialect: 'sqlite', filename: resolve('x.db'), busyTimeoutMs: 2000,
    });
  });

  it('reads PostgreSQL forms with escapes, default port and IPv6', () => {
    const config = server({ uri: `postgresql://quay%40corp:${encodeURIComponent(SECRET + '/:@')}@db.example:6543/registry` });
    assert.deepEqual(
      { dialect: config.dialect, host: config.host, port: config.port, user: config.user, password: config.password, database: config.database },
      { dialect: 'postgres', host: 'db.example', port: 6543, user: 'quay@corp', password: `${SECRET}/:@`, database: 'registry' },
    );
    assert.equal(config.maxConnections, 10);
    assert.equal(config.tls, false);
    assert.equal(server({ uri: 'postgres://u@h/d' }).port, 5432);
    assert.equal(server({ uri: 'postgresql+psycopg2://u@h/d' }).dialect, 'postgres');
    assert.equal(server({ uri: 'postgresql://u@[::1]:5433/d' }).host, '::1');
    assert.equal(server({ uri: 'postgresql://h/d' }).user, undefined);
  });

  it('reads MySQL forms', () => {
    const config = server({ uri: `mysql+pymysql://quay:${SECRET}@mysql.local/quay` });
    assert.deepEqual([config.dialect, config.host, config.port, config.user, config.password, config.database], ['mysql', 'mysql.local', 3306, 'quay', SECRET, 'quay']);
    assert.equal(server({ uri: 'mysql://root@127.0.0.1:3307/q' }).port, 3307);
    assert.equal(server({ uri: 'MySQL://root@h/q' }).dialect, 'mysql');
  });

  it('rejects unknown schemes and malformed URIs without leaking the password', () => {
    rejects({ uri: `oracle://u:${SECRET}@h/d` }, /scheme "oracle" is not supported/);
    rejects({ uri: `u:${SECRET}@h/d` }, /not a URI/);
    rejects({ uri: '' }, /not a URI/);
    rejects({ uri: `postgresql://u:${SECRET}@h:notaport/d` }, /malformed/);
    rejects({ uri: `postgresql://u:${SECRET}@h:99999/d` }, /malformed/);
    rejects({ uri: `postgresql://u:${SECRET}@h/` }, /one database/);
    rejects({ uri: `postgresql://u:${SECRET}@h/a/b` }, /one database/);
    rejects({ uri: `mysql://u:${SECRET}@/d` }, /no host|malformed/);
    rejects({ uri: `postgresql://u:${SECRET}%ZZ@h/d` }, /password has a malformed %-escape/);
    rejects({ uri: 'sqlite://host/quay.db' }, /no host/);
    rejects({ uri: 'sqlite:///quay.db?mode=ro' }, /no query parameters/);
  });

  it('takes the pool size and timeouts, ignores peewee-only keys', () => {
    const config = server({
      uri: 'postgresql://u@h/d',
      connectionArgs: { max_connections: 25, stale_timeout: 300, connect_timeout: 5, threadlocals: true, autorollback: true },
    });
    assert.deepEqual([config.maxConnections, config.idleTimeoutMs, config.connectTimeoutMs], [25, 300_000, 5000]);
    assert.equal(server({ uri: 'mysql://u@h/d?max_connections=3' }).maxConnections, 3);
  });

  it('bounds every wait on a database server: connect, query and pool timeouts with defaults', () => {
    for (const uri of ['postgresql://u@h/d', 'mysql://u@h/d']) {
      const defaults = server({ uri });
      assert.deepEqual([defaults.connectTimeoutMs, defaults.queryTimeoutMs, defaults.poolTimeoutMs], [5000, 30_000, 10_000]);
      const set = server({ uri, connectionArgs: { connect_timeout: 2, query_timeout: 0.5, pool_timeout: '3' } });
      assert.deepEqual([set.connectTimeoutMs, set.queryTimeoutMs, set.poolTimeoutMs], [2000, 500, 3000]);
      rejects({ uri, connectionArgs: { query_timeout: 0 } }, /"query_timeout" must be a positive number/);
      rejects({ uri, connectionArgs: { pool_timeout: 'soon' } }, /"pool_timeout" must be a positive number/);
    }
    assert.equal(server({ uri: 'postgresql://u@h/d?query_timeout=7' }).queryTimeoutMs, 7000);
    rejects({ uri: 'sqlite:///x.db', connectionArgs: { query_timeout: 1 } }, /"query_timeout" is not supported for sqlite/);
  });

  it('rejects unknown or ill-typed connection arguments, naming them', () => {
    const uri = `postgresql://u:${SECRET}@h/d`;
    rejects({ uri, connectionArgs: { sslmde: 'require' } }, /"sslmde" is not supported for postgres/);
    rejects({ uri: `${uri}?bogus=1` }, /"bogus" is not supported/);
    rejects({ uri, connectionArgs: { max_connections: 0 } }, /"max_connections" must be a positive number/);
    rejects({ uri, connectionArgs: { max_connections: 2.5 } }, /"max_connections" must be a positive integer/);
    rejects({ uri, connectionArgs: { max_connections: 'many' } }, /"max_connections"/);
    rejects({ uri, connectionArgs: { sslmode: 'always' } }, /"sslmode" must be one of/);
    rejects({ uri, connectionArgs: { sslrootcert: join(dir, 'missing.pem') } }, /"sslrootcert" file .*missing\.pem cannot be read \(ENOENT\)/);
    rejects({ uri, connectionArgs: { sslcert: 42 } }, /"sslcert" must be a file path/);
    rejects({ uri: `mysql://u:${SECRET}@h/d`, connectionArgs: { sslmode: 'require' } }, /"sslmode" is not supported for mysql/);
    rejects({ uri: `mysql://u:${SECRET}@h/d`, connectionArgs: { ssl: '/ca.pem' } }, /"ssl" must be a mapping/);
    rejects({ uri: `mysql://u:${SECRET}@h/d`, connectionArgs: { ssl: { capath: '/x' } } }, /"ssl.capath" is not supported/);
    rejects({ uri: `mysql://u:${SECRET}@h/d`, connectionArgs: { ssl: { check_hostname: 'no' } } }, /"ssl.check_hostname" must be true or false/);
    rejects({ uri: 'sqlite:///x.db', connectionArgs: { sslmode: 'require' } }, /"sslmode" is not supported for sqlite/);
    rejects({ uri: 'sqlite:///x.db', connectionArgs: { timeout: -1 } }, /"timeout" must be a positive number/);
  });

  it('maps sslmode and TLS files', async () => {
    const ca = join(dir, 'ca.pem');
    await writeFile(ca, 'CA CERT');
    const uri = 'postgresql://u@h/d';
    for (const mode of ['disable', 'allow', 'prefer']) assert.equal(server({ uri, connectionArgs: { sslmode: mode } }).tls, false);
    assert.deepEqual(server({ uri, connectionArgs: { sslmode: 'require' } }).tls, { verify: 'none' });
    assert.deepEqual(server({ uri, connectionArgs: { sslmode: 'require', sslrootcert: ca } }).tls, { verify: 'ca', ca: Buffer.from('CA CERT') });
    assert.deepEqual(server({ uri: `${uri}?sslmode=verify-ca` }).tls, { verify: 'ca' });
    assert.deepEqual(
      server({ uri, connectionArgs: { sslmode: 'verify-full', sslrootcert: ca, sslcert: ca, sslkey: ca } }).tls,
      { verify: 'full', ca: Buffer.from('CA CERT'), cert: Buffer.from('CA CERT'), key: Buffer.from('CA CERT') },
    );
    assert.deepEqual(server({ uri: 'mysql://u@h/d', connectionArgs: { ssl: { ca } } }).tls, { verify: 'full', ca: Buffer.from('CA CERT') });
    assert.deepEqual(server({ uri: 'mysql://u@h/d', connectionArgs: { ssl: { ca, check_hostname: false } } }).tls, { verify: 'ca', ca: Buffer.from('CA CERT') });
  });
});

describe('openDatabase', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quayside-open-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('opens SQLite in WAL mode with foreign keys and a busy timeout, creating the directory', async () => {
    const file = join(dir, 'nested', 'deeper', 'quay.db');
    const database = await openDatabase({ uri: `sqlite:///${file}` });
    try {
      assert.equal(database.dialect, 'sqlite');
      assert.ok((await stat(file)).isFile());
      const pragma = async (name: string) =>
        Object.values((await sql<Record<string, unknown>>`${sql.raw(`pragma ${name}`)}`.execute(database.db)).rows[0] ?? {})[0];
      assert.equal(await pragma('journal_mode'), 'wal');
      assert.equal(await pragma('foreign_keys'), 1);
      assert.equal(await pragma('busy_timeout'), 5000);
    } finally {
      await database.close();
    }
  });

  it('opens an in-memory SQLite database', async () => {
    const database = await openDatabase({ uri: 'sqlite:///:memory:' });
    try {
      const { rows } = await sql<{ v: number }>`select 1 + 1 as v`.execute(database.db);
      assert.equal(rows[0]?.v, 2);
    } finally {
      await database.close();
    }
  });

  for (const uri of [POSTGRES_ADMIN_URI, 'postgres://postgres@127.0.0.1/test', 'mysql+pymysql://root@127.0.0.1:3306/test', 'mysql://root@127.0.0.1/test']) {
    it(`connects to ${uri}`, async () => {
      const database = await openDatabase({ uri, connectionArgs: { max_connections: 2, threadlocals: true, autorollback: true } });
      try {
        const { rows } = await sql<{ v: number | string }>`select 1 + 1 as v`.execute(database.db);
        assert.equal(Number(rows[0]?.v), 2);
      } finally {
        await database.close();
      }
    });
  }

  it('rejects a bad URI asynchronously with DatabaseConfigError', async () => {
    await assert.rejects(openDatabase({ uri: 'redis://localhost/0' }), DatabaseConfigError);
  });

  it('sets strict SQL mode (errors, not truncation) and READ COMMITTED on MySQL connections', async () => {
    const database = await openDatabase({ uri: 'mysql://root@127.0.0.1/test' });
    try {
      const { rows } = await sql<{ mode: string; isolation: string }>`select @@session.sql_mode as mode, @@session.tx_isolation as isolation`.execute(database.db);
      assert.match(rows[0]?.mode ?? '', /STRICT_ALL_TABLES/);
      assert.equal(rows[0]?.isolation, 'READ-COMMITTED');
    } finally {
      await database.close();
    }
  });
});
