import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { openDatabase, type Database, type Dialect } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';

/** Every dialect; data-access tests run against each (the servers must be running, see freshDatabase). */
export const ALL_DIALECTS: readonly Dialect[] = ['sqlite', 'postgres', 'mysql'];

/** The local test servers (PostgreSQL with trust auth, MariaDB root without password). */
export const POSTGRES_ADMIN_URI = 'postgresql://postgres@127.0.0.1:5432/test';
export const MYSQL_ADMIN = { host: '127.0.0.1', port: 3306, user: 'root' } as const;

export interface FreshDatabase {
  /** An open, migrated (unless asked otherwise) database. */
  database: Database;
  /** Its DB_URI, for code under test that opens its own pool (e.g. a server started from a config). */
  uri: string;
  /** Closes `database` and deletes the database (or SQLite temp dir). Call it in after(). */
  drop(): Promise<void>;
}

/**
 * Creates a new, uniquely named, empty database for one test file: quayside_t_<random> on the local
 * PostgreSQL or MariaDB server, or a SQLite file in a new temp dir. Test files can therefore run in
 * parallel. Throws (the test fails, never skips) when the server cannot be reached.
 *
 *   for (const dialect of ALL_DIALECTS) describe(dialect, () => {
 *     let fresh: FreshDatabase;
 *     before(async () => { fresh = await freshDatabase(dialect); });
 *     after(() => fresh.drop());
 *     it('...', async () => { const metadata = createMetadata(fresh.database); ... });
 *   });
 */
export async function freshDatabase(dialect: Dialect, options: { migrate?: boolean } = {}): Promise<FreshDatabase> {
  const name = `quayside_t_${randomBytes(6).toString('hex')}`;
  let uri: string;
  let dropStorage: () => Promise<void>;
  if (dialect === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'quayside-db-'));
    uri = `sqlite:///${join(dir, `${name}.db`)}`;
    dropStorage = () => rm(dir, { recursive: true, force: true });
  } else if (dialect === 'postgres') {
    await postgresAdmin(`create database ${name}`);
    uri = `postgresql://postgres@127.0.0.1:5432/${name}`;
    dropStorage = () => postgresAdmin(`drop database if exists ${name} with (force)`);
  } else {
    await mysqlAdmin(`create database ${name} character set utf8mb4 collate utf8mb4_bin`);
    uri = `mysql+pymysql://root@127.0.0.1:3306/${name}`;
    dropStorage = () => mysqlAdmin(`drop database if exists ${name}`);
  }
  const database = await openDatabase({ uri });
  if (options.migrate ?? true) await migrateToLatest(database);
  return {
    database,
    uri,
    drop: async () => {
      await database.close();
      await dropStorage();
    },
  };
}

async function postgresAdmin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URI });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`PostgreSQL is required for tests and unreachable at ${POSTGRES_ADMIN_URI}: ${String(error)}`);
  }
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

async function mysqlAdmin(statement: string): Promise<void> {
  let connection;
  try {
    connection = await createConnection(MYSQL_ADMIN);
  } catch (error) {
    throw new Error(`MariaDB is required for tests and unreachable at 127.0.0.1:3306 (root): ${String(error)}`);
  }
  try {
    await connection.query(statement);
  } finally {
    await connection.end();
  }
}
