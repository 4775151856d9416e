// A private PostgreSQL cluster for fault tests: initdb into a temp dir, postgres on a free port with its socket
// in that dir, run as the postgres user when we are root (PostgreSQL refuses to run as root).
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './processes.js';
import { PortTakenError, runSetup, ServerProcess, systemUser, type PrivateDatabaseServer, privateDatabaseServer } from './private-db-process.js';

/** The newest /usr/lib/postgresql/<version>/bin, or a clear error. */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres'))) return bin;
  }
  throw new Error('PostgreSQL server binaries (initdb, postgres) not found under /usr/lib/postgresql/*/bin: apt-get install postgresql');
}

/** Creates and starts a private cluster with one empty database, "quayside". */
export async function startPrivatePostgres(): Promise<PrivateDatabaseServer> {
  const bin = postgresBin();
  const dir = await mkdtemp(join(tmpdir(), 'quayside-private-pg-'));
  const user = process.getuid?.() === 0 ? systemUser('postgres') : undefined;
  if (user !== undefined) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  try {
    runSetup(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions'], user);
    for (let attempt = 1; ; attempt += 1) {
      const port = await freePort();
      const server = new ServerProcess({
        command: join(bin, 'postgres'),
        // fsync off: the faults here are process restarts, which a clean shutdown survives anyway; the machine
        // does not crash under the test.
        args: ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=60'],
        ready: /database system is ready to accept connections/,
        portTaken: /could not bind|Address already in use/,
        stopSignal: 'SIGINT',
        user,
      });
      try {
        await server.start();
      } catch (error) {
        if (error instanceof PortTakenError && attempt < 3) continue;
        throw error;
      }
      const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      await admin.connect();
      try {
        await admin.query('create database quayside');
      } finally {
        await admin.end();
      }
      return privateDatabaseServer('postgres', port, `postgresql://postgres@127.0.0.1:${port}/quayside`, server, dir);
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
