// `quayside serve` through the built binary: the embedded default (SQLite + local storage in the data dir)
// and a config that only sets DB_URI to PostgreSQL; both answer /v2/ and /health/instance and stop on SIGTERM.
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { startQuayside, type RegistryServer } from '../helpers/processes.js';

/** GET a path and return the status and the parsed JSON body. */
async function getJson(server: RegistryServer, path: string): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(`${server.url}${path}`);
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown), headers: response.headers };
}

/** Stops the server with SIGTERM and returns its exit code and signal. */
async function stopWithSigterm(server: RegistryServer): Promise<{ code: number | null; signal: string | null }> {
  // stop() sends SIGTERM and escalates to SIGKILL only after its grace period: a generous one, so that a
  // loaded machine cannot turn a clean exit into a kill (the signal below tells them apart).
  await server.process.stop(60_000);
  return { code: server.process.child.exitCode, signal: server.process.child.signalCode };
}

async function assertServes(server: RegistryServer): Promise<void> {
  // Without a token, /v2/ tells the client where to log in (as docker and podman expect).
  const base = await getJson(server, '/v2/');
  assert.equal(base.status, 401);
  assert.equal(base.headers.get('docker-distribution-api-version'), 'registry/2.0');
  assert.equal(
    base.headers.get('www-authenticate'),
    `Bearer realm="http://${server.hostPort}/v2/auth",service="${server.hostPort}"`,
  );
  const health = await getJson(server, '/health/instance');
  assert.equal(health.status, 200, JSON.stringify(health.body));
  // As in Quay, /health/instance leaves storage to /health/endtoend.
  assert.deepEqual((health.body as { data?: { services?: unknown } }).data?.services, { database: true });
}

describe('quayside serve on the embedded default', () => {
  let work: string;
  let server: RegistryServer | undefined;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'quayside-cli-serve-'));
  });
  after(async () => {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('migrates, prints the listening and data lines, serves, and exits 0 on SIGTERM', async () => {
    const dataDir = join(work, 'data');
    server = await startQuayside({ dataDir, user: false });
    assert.ok(server.port > 0);
    const dataLine = await server.process.waitForLine(/^metadata: /);
    assert.equal(dataLine, `metadata: sqlite ${join(dataDir, 'quayside.db')}; blobs: local storage location "local"`);
    assert.ok(dataLine.includes(join(dataDir, 'quayside.db')), dataLine);
    assert.ok(server.process.stdoutLines().some((line) => /^applied migration /.test(line)), 'migration progress printed');
    const hint = await server.process.waitForLine(/no users yet/);
    assert.match(hint, /quayside user create/);

    await assertServes(server);
    assert.ok(statSync(join(dataDir, 'quayside.db')).isFile(), 'quayside.db in the data dir');
    assert.ok(statSync(join(dataDir, 'storage')).isDirectory(), 'storage/ in the data dir');

    const stopped = await stopWithSigterm(server);
    assert.equal(stopped.signal, null, 'exited by itself, not killed');
    assert.equal(stopped.code, 0);
    assert.ok(server.process.stdoutLines().some((line) => /SIGTERM received/.test(line)));
    assert.equal(server.process.stderrLines().filter((line) => line !== '').length, 0, server.process.stderrLines().join('\n'));

    // A second start on the same data dir finds nothing to migrate and serves the same database.
    server = await startQuayside({ dataDir, user: false });
    assert.ok(!server.process.stdoutLines().some((line) => /^applied migration /.test(line)), 'no migration on restart');
    await assertServes(server);
    assert.equal((await stopWithSigterm(server)).code, 0);
    assert.ok(existsSync(dataDir), 'the data dir is the caller’s and stays');
  });
});

describe('quayside serve with a config that only sets DB_URI to PostgreSQL', () => {
  let work: string;
  let fresh: FreshDatabase;
  let server: RegistryServer | undefined;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'quayside-cli-serve-pg-'));
    fresh = await freshDatabase('postgres', { migrate: false });
  });
  after(async () => {
    await server?.stop();
    await fresh.drop();
    await rm(work, { recursive: true, force: true });
  });

  it('migrates the database, fills in local storage, serves', async () => {
    const config = join(work, 'config.yaml');
    await writeFile(config, `DB_URI: ${fresh.uri}\n`);
    const dataDir = join(work, 'data');
    server = await startQuayside({ dataDir, config, user: false });
    const dataLine = await server.process.waitForLine(/^metadata: /);
    // The banner names the database's host and name (and user), never its password.
    assert.equal(dataLine, `metadata: postgres database ${new URL(fresh.uri).pathname.slice(1)} on 127.0.0.1:5432 as postgres; blobs: local storage location "local"`);
    assert.ok(server.process.stdoutLines().some((line) => /^applied migration /.test(line)), 'migrated on start');
    await assertServes(server);
    // Blobs live in the embedded local storage; no SQLite database was made.
    assert.ok(statSync(join(dataDir, 'storage')).isDirectory());
    assert.ok(!existsSync(join(dataDir, 'quayside.db')));
    const tables = await fresh.database.db.introspection.getTables();
    assert.ok(tables.length > 0, 'migrations created tables in the PostgreSQL database');
    const stopped = await stopWithSigterm(server);
    assert.equal(stopped.code, 0);
  });
});
