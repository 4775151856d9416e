// A private MariaDB server for fault tests: mariadb-install-db into a temp dir, mariadbd on a free port with its
// socket in that dir; root has no password, as on the shared test server.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { freePort, requireCommand } from './processes.js';
import { PortTakenError, runSetup, ServerProcess, type PrivateDatabaseServer, privateDatabaseServer } from './private-db-process.js';

/** Creates and starts a private server with one empty database, "quayside". */
export async function startPrivateMariadb(): Promise<PrivateDatabaseServer> {
  const installDb = requireCommand('mariadb-install-db', 'apt-get install mariadb-server');
  // /usr/sbin is not on every user's PATH.
  const daemon = ['/usr/sbin/mariadbd', '/usr/bin/mariadbd'].find((path) => existsSync(path)) ?? requireCommand('mariadbd', 'apt-get install mariadb-server');
  const dir = await mkdtemp(join(tmpdir(), 'quayside-private-mariadb-'));
  const data = join(dir, 'data');
  // mariadbd drops to --user when started as root; as anyone else it runs as itself.
  const userArgs = process.getuid?.() === 0 ? ['--user=root'] : [];
  try {
    runSetup(installDb, [
      '--no-defaults',
      `--datadir=${data}`,
      ...userArgs,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ]);
    for (let attempt = 1; ; attempt += 1) {
      const port = await freePort();
      const server = new ServerProcess({
        command: daemon,
        args: [
          '--no-defaults',
          `--datadir=${data}`,
          `--port=${port}`,
          '--bind-address=127.0.0.1',
          `--socket=${join(dir, 'mariadb.sock')}`,
          `--pid-file=${join(dir, 'mariadb.pid')}`,
          ...userArgs,
          '--skip-log-bin',
          '--innodb-buffer-pool-size=32M',
          '--max-connections=60',
        ],
        ready: /ready for connections/,
        portTaken: /Can't start server: Bind on TCP\/IP port|Address already in use/,
        // SIGTERM is mariadbd's normal shutdown: it ends every client session, like mysqladmin shutdown.
        stopSignal: 'SIGTERM',
      });
      try {
        await server.start();
      } catch (error) {
        if (error instanceof PortTakenError && attempt < 3) continue;
        throw error;
      }
      const admin = await createConnection({ host: '127.0.0.1', port, user: 'root' });
      try {
        await admin.query('create database quayside character set utf8mb4 collate utf8mb4_bin');
      } finally {
        await admin.end();
      }
      return privateDatabaseServer('mysql', port, `mysql+pymysql://root@127.0.0.1:${port}/quayside`, server, dir);
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
