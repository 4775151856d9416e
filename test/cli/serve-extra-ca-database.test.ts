// extra_ca_certs/ of a config directory is trusted by database TLS: a private PostgreSQL serving a certificate
// of a test CA, reached with sslmode=verify-full and no sslrootcert. Without the CA in extra_ca_certs/ the
// connection is refused (one line); with it, the same command works.
import assert from 'node:assert/strict';
import { chown, chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { assertOneLineFailure, runQuayside } from '../helpers/cli.js';
import { systemUser, type PrivateDatabaseServer } from '../helpers/private-db-process.js';
import { startPrivatePostgres } from '../helpers/private-postgres.js';
import { makePki, tempDir } from '../net/fixtures.js';

describe('extra_ca_certs/ for database TLS', () => {
  let work: { path: string; remove(): Promise<void> };
  let database: PrivateDatabaseServer;

  before(async () => {
    work = await tempDir('quayside-extra-ca-db-');
    const pki = await makePki(work.path);
    const pair = await pki.issue('pg', '4001');
    database = await startPrivatePostgres();
    // PostgreSQL reads the key as its own user and refuses one others may read.
    const certFile = join(work.path, 'pg-server.crt');
    const keyFile = join(work.path, 'pg-server.key');
    await writeFile(certFile, pair.chain);
    await writeFile(keyFile, pair.key);
    await chmod(keyFile, 0o600);
    if (process.getuid?.() === 0) {
      const owner = systemUser('postgres');
      for (const file of [certFile, keyFile]) await chown(file, owner.uid, owner.gid);
      await chmod(work.path, 0o755);
    }
    const admin = new pg.Client({ host: '127.0.0.1', port: database.port, user: 'postgres', database: 'postgres' });
    await admin.connect();
    try {
      await admin.query(`alter system set ssl_cert_file = '${certFile}'`);
      await admin.query(`alter system set ssl_key_file = '${keyFile}'`);
      await admin.query('alter system set ssl = on');
      await admin.query('select pg_reload_conf()');
    } finally {
      await admin.end();
    }
  });
  after(async () => {
    await database?.destroy();
    await work?.remove();
  });

  async function confDir(name: string, withCa: string | undefined): Promise<string> {
    const dir = join(work.path, name);
    await mkdir(join(dir, 'extra_ca_certs'), { recursive: true });
    await writeFile(join(dir, 'config.yaml'), `DB_URI: ${database.uri}?sslmode=verify-full\n`);
    if (withCa !== undefined) await writeFile(join(dir, 'extra_ca_certs', 'test-root.crt'), withCa);
    return dir;
  }

  it('refuses the unknown CA without it, and connects with it', async () => {
    const { readFile } = await import('node:fs/promises');
    const ca = await readFile(join(work.path, 'root.crt'), 'utf8');
    const without = await confDir('without', undefined);
    assertOneLineFailure(await runQuayside(work.path, 'db', 'status', '--config-dir', without), 1, /database: cannot (open|connect)/, /certificate/);
    const withCa = await confDir('with', ca);
    const status = await runQuayside(work.path, 'db', 'migrate', '--config-dir', withCa);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /database is up to date/);
  });
});
