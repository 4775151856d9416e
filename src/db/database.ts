import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CompiledQuery, Kysely, MysqlDialect, PostgresDialect, SqliteDialect, type KyselyConfig, type LogEvent } from 'kysely';
import type { PoolOptions as MysqlPoolOptions } from 'mysql2';
import { boundedMysqlPool } from './mysql-pool.js';
import type { ConnectionLog } from './pool-bounds.js';
import { boundedPostgresPool } from './postgres-pool.js';
import type { Schema } from './schema.js';
import { withStatementCache } from './sqlite-statement-cache.js';

export type Dialect = 'sqlite' | 'postgres' | 'mysql';

/** Quay's DB_URI and DB_CONNECTION_ARGS. */
export interface DatabaseOptions {
  uri: string;
  connectionArgs?: Record<string, unknown>;
  /** Where lost connections are reported (default: one line on stderr each). */
  log?: ConnectionLog;
  /** Told each query's duration. */
  onQuery?: QueryObserver;
  /**
   * The CA list TLS to the database trusts when DB_CONNECTION_ARGS names none (sslrootcert, ssl.ca): the
   * system roots plus the config directory's extra_ca_certs/.
   */
  defaultCa?: string[];
}

export interface Database {
  db: Kysely<Schema>;
  dialect: Dialect;
  close(): Promise<void>;
  /** The connection pool right now (PostgreSQL and MariaDB; SQLite has none). */
  poolStats?(): PoolStats;
}

export interface PoolStats {
  /** Connections open. */
  total: number;
  /** Open and unused. */
  idle: number;
  /** Requests waiting for a connection. */
  waiting: number;
}

/** Hears every query's duration (for metrics); it must not throw. */
export type QueryObserver = (durationMs: number, failed: boolean) => void;

/** A DB_URI or DB_CONNECTION_ARGS problem; the message never contains the password. */
export class DatabaseConfigError extends Error {
  override name = 'DatabaseConfigError';
}

export type TlsFiles = { ca?: Buffer | string[]; cert?: Buffer; key?: Buffer };
/** false: plaintext. Otherwise TLS; verify says how much of the server certificate is checked. */
export type TlsConfig = false | (TlsFiles & { verify: 'none' | 'ca' | 'full' });

/** What openDatabase needs, parsed and validated from a URI plus connection arguments. */
export type DatabaseConfig =
  | { dialect: 'sqlite'; filename: string; busyTimeoutMs: number }
  | {
      dialect: 'postgres' | 'mysql';
      host: string;
      port: number;
      user: string | undefined;
      password: string | undefined;
      database: string;
      /** Pool size, from DB_CONNECTION_ARGS.max_connections (peewee's pool name for it); default 10. */
      maxConnections: number;
      /** Idle connections are closed after this, from DB_CONNECTION_ARGS.stale_timeout (seconds). */
      idleTimeoutMs: number | undefined;
      /** Opening one connection, from DB_CONNECTION_ARGS.connect_timeout (seconds). */
      connectTimeoutMs: number;
      /** One statement's answer, from DB_CONNECTION_ARGS.query_timeout (seconds). */
      queryTimeoutMs: number;
      /** Waiting for a pooled connection, from DB_CONNECTION_ARGS.pool_timeout (seconds). */
      poolTimeoutMs: number;
      tls: TlsConfig;
    };

const SCHEMES: Record<string, Dialect> = {
  sqlite: 'sqlite',
  postgresql: 'postgres',
  postgres: 'postgres',
  'postgresql+psycopg2': 'postgres',
  'postgresql+psycopg': 'postgres',
  mysql: 'mysql',
  'mysql+pymysql': 'mysql',
  'mysql+mysqldb': 'mysql',
  'mysql+mysqlconnector': 'mysql',
  mariadb: 'mysql',
  'mariadb+pymysql': 'mysql',
};

/** Quay's peewee-only arguments: thread-local connections and autorollback have no meaning for a Node pool. */
const IGNORED_ARGS = new Set(['threadlocals', 'autorollback']);
const PG_SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/**
 * Bounds on every wait for a database server, so that a request fails (503) in bounded time when the server
 * is down or hung, instead of waiting as long as the server does.
 */
export const DEFAULT_CONNECT_TIMEOUT_S = 5;
export const DEFAULT_QUERY_TIMEOUT_S = 30;
export const DEFAULT_POOL_TIMEOUT_S = 10;

/** Parses a Quay DB_URI and DB_CONNECTION_ARGS into a validated configuration (no I/O except reading TLS files). */
export function parseDatabaseConfig(options: DatabaseOptions): DatabaseConfig {
  const match = /^([a-z0-9+]+):\/\/(.*)$/is.exec(options.uri);
  if (!match) throw new DatabaseConfigError('DB_URI is not a URI of the form scheme://...');
  const scheme = match[1]!.toLowerCase();
  const dialect = SCHEMES[scheme];
  if (!dialect) {
    throw new DatabaseConfigError(`DB_URI scheme "${scheme}" is not supported (use sqlite, postgresql or mysql)`);
  }
  const args = options.connectionArgs ?? {};
  return dialect === 'sqlite' ? sqliteConfig(match[2]!, args) : serverConfig(dialect, options.uri, args);
}

/** SQLAlchemy's rules: sqlite:///relative.db, sqlite:////absolute.db, sqlite:///:memory: or sqlite://. */
function sqliteConfig(rest: string, args: Record<string, unknown>): DatabaseConfig {
  if (rest.includes('?')) throw new DatabaseConfigError('DB_URI: sqlite URIs take no query parameters');
  if (rest !== '' && !rest.startsWith('/')) {
    throw new DatabaseConfigError('DB_URI: a sqlite URI has no host; write sqlite:///relative.db or sqlite:////absolute.db');
  }
  const path = rest.slice(1);
  const filename = path === '' || path === ':memory:' ? ':memory:' : resolve(path);
  let busyTimeoutMs = 5000;
  for (const [key, value] of Object.entries(args)) {
    if (IGNORED_ARGS.has(key)) continue;
    // A single SQLite connection serves the process (writers serialize anyway), so a pool size is moot.
    if (key === 'max_connections' || key === 'stale_timeout') continue;
    if (key === 'timeout') busyTimeoutMs = seconds(key, value) * 1000;
    else throw new DatabaseConfigError(`DB_CONNECTION_ARGS: "${key}" is not supported for sqlite`);
  }
  return { dialect: 'sqlite', filename, busyTimeoutMs };
}

function serverConfig(dialect: 'postgres' | 'mysql', uri: string, args: Record<string, unknown>): DatabaseConfig {
  let url: URL;
  try {
    // WHATWG URL parses the authority of any scheme written with "//"; normalise it to a fixed one.
    url = new URL(uri.replace(/^[^:]+:/, 'db:'));
  } catch {
    throw new DatabaseConfigError(`DB_URI for ${dialect} is malformed (expected ${dialect}://user:password@host:port/database)`);
  }
  const database = decode(url.pathname.replace(/^\//, ''), 'database name');
  if (url.hostname === '') throw new DatabaseConfigError('DB_URI has no host');
  if (database === '' || database.includes('/')) throw new DatabaseConfigError('DB_URI must name one database in its path');
  const port = url.port === '' ? (dialect === 'postgres' ? 5432 : 3306) : Number(url.port);
  // URI query parameters are connection arguments too (SQLAlchemy passes them to the driver).
  const all: Record<string, unknown> = { ...Object.fromEntries(url.searchParams), ...args };
  const config = {
    dialect,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    user: url.username === '' ? undefined : decode(url.username, 'user name'),
    password: url.password === '' ? undefined : decode(url.password, 'password'),
    database,
    maxConnections: 10,
    idleTimeoutMs: undefined as number | undefined,
    connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_S * 1000,
    queryTimeoutMs: DEFAULT_QUERY_TIMEOUT_S * 1000,
    poolTimeoutMs: DEFAULT_POOL_TIMEOUT_S * 1000,
    tls: false as TlsConfig,
  };
  const pgTls: { sslmode?: string; files: TlsFiles } = { files: {} };
  for (const [key, value] of Object.entries(all)) {
    if (IGNORED_ARGS.has(key)) continue;
    if (key === 'max_connections') config.maxConnections = positiveInteger(key, value);
    else if (key === 'stale_timeout') config.idleTimeoutMs = seconds(key, value) * 1000;
    else if (key === 'connect_timeout') config.connectTimeoutMs = seconds(key, value) * 1000;
    else if (key === 'query_timeout') config.queryTimeoutMs = seconds(key, value) * 1000;
    else if (key === 'pool_timeout') config.poolTimeoutMs = seconds(key, value) * 1000;
    else if (dialect === 'postgres' && key === 'sslmode') pgTls.sslmode = oneOf(key, value, PG_SSLMODES);
    else if (dialect === 'postgres' && key === 'sslrootcert') pgTls.files.ca = readTlsFile(key, value);
    else if (dialect === 'postgres' && key === 'sslcert') pgTls.files.cert = readTlsFile(key, value);
    else if (dialect === 'postgres' && key === 'sslkey') pgTls.files.key = readTlsFile(key, value);
    else if (dialect === 'mysql' && key === 'ssl') config.tls = mysqlTls(value);
    else throw new DatabaseConfigError(`DB_CONNECTION_ARGS: "${key}" is not supported for ${dialect}`);
  }
  if (dialect === 'postgres') config.tls = postgresTls(pgTls.sslmode, pgTls.files);
  return config;
}

/**
 * libpq's sslmode. node-pg cannot try TLS and fall back to plaintext, so "allow" and "prefer" (libpq's
 * default) connect in plaintext like "disable"; "require" insists on TLS without checking the certificate,
 * unless sslrootcert is given (then it checks the CA, as libpq does).
 */
function postgresTls(sslmode: string | undefined, files: TlsFiles): TlsConfig {
  const mode = sslmode ?? (files.ca ? 'verify-ca' : 'prefer');
  if (mode === 'disable' || mode === 'allow' || mode === 'prefer') return false;
  if (mode === 'verify-full') return { ...files, verify: 'full' };
  if (mode === 'verify-ca' || files.ca) return { ...files, verify: 'ca' };
  return { ...files, verify: 'none' };
}

/** PyMySQL's ssl dict: { ca, cert, key, check_hostname }; with TLS the server certificate is always verified. */
function mysqlTls(value: unknown): TlsConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DatabaseConfigError('DB_CONNECTION_ARGS: "ssl" must be a mapping such as { ca: /path/to/ca.pem }');
  }
  const files: TlsFiles = {};
  let checkHostname = true;
  for (const [key, item] of Object.entries(value)) {
    if (key === 'ca' || key === 'cert' || key === 'key') files[key] = readTlsFile(`ssl.${key}`, item);
    else if (key === 'check_hostname') checkHostname = boolean(`ssl.${key}`, item);
    else throw new DatabaseConfigError(`DB_CONNECTION_ARGS: "ssl.${key}" is not supported for mysql`);
  }
  return { ...files, verify: checkHostname ? 'full' : 'ca' };
}

function readTlsFile(key: string, value: unknown): Buffer {
  if (typeof value !== 'string' || value === '') {
    throw new DatabaseConfigError(`DB_CONNECTION_ARGS: "${key}" must be a file path`);
  }
  try {
    return readFileSync(value);
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
    throw new DatabaseConfigError(`DB_CONNECTION_ARGS: "${key}" file ${value} cannot be read (${reason})`);
  }
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new DatabaseConfigError(`DB_URI: the ${what} has a malformed %-escape`);
  }
}

function numberArg(key: string, value: unknown): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) {
    throw new DatabaseConfigError(`DB_CONNECTION_ARGS: "${key}" must be a positive number`);
  }
  return n;
}

function seconds(key: string, value: unknown): number {
  return numberArg(key, value);
}

function positiveInteger(key: string, value: unknown): number {
  const n = numberArg(key, value);
  if (!Number.isInteger(n)) throw new DatabaseConfigError(`DB_CONNECTION_ARGS: "${key}" must be a positive integer`);
  return n;
}

function boolean(key: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  throw new DatabaseConfigError(`DB_CONNECTION_ARGS: "${key}" must be true or false`);
}

function oneOf(key: string, value: unknown, allowed: string[]): string {
  if (typeof value === 'string' && allowed.includes(value)) return value;
  throw new DatabaseConfigError(`DB_CONNECTION_ARGS: "${key}" must be one of ${allowed.join(', ')}`);
}

/** Opens a pool for a Quay DB_URI (see parseDatabaseConfig); throws DatabaseConfigError on bad configuration. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const config = parseDatabaseConfig(options);
  const kyselyLog = queryLog(options.onQuery);
  if (config.dialect === 'sqlite') return openSqlite(config.filename, config.busyTimeoutMs, kyselyLog);
  if (config.tls !== false && config.tls.ca === undefined && options.defaultCa !== undefined) {
    config.tls = { ...config.tls, ca: options.defaultCa };
  }
  const log = options.log ?? STDERR_LOG;
  const { db, poolStats } = config.dialect === 'postgres' ? await postgresKysely(config, log, kyselyLog) : await mysqlKysely(config, log, kyselyLog);
  return { db, dialect: config.dialect, close: () => db.destroy(), poolStats };
}

type KyselyLog = KyselyConfig['log'];

/** Kysely's log hook, reduced to what a QueryObserver needs. */
function queryLog(observer: QueryObserver | undefined): KyselyLog {
  if (observer === undefined) return undefined;
  return (event: LogEvent) => observer(event.queryDurationMillis, event.level === 'error');
}

// Each dialect's driver is loaded only when that dialect is used: an embedded instance does not pay the
// memory of the pg and mysql2 modules, nor a server instance that of better-sqlite3.
async function openSqlite(filename: string, busyTimeoutMs: number, log: KyselyLog): Promise<Database> {
  if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true });
  const { default: SqliteDatabase } = await import('better-sqlite3');
  const sqlite = new SqliteDatabase(filename);
  // WAL lets readers proceed during a write; busy_timeout makes a second process wait instead of failing.
  if (filename !== ':memory:') sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma(`busy_timeout = ${Math.round(busyTimeoutMs)}`);
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }), log });
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}

type ServerConfig = Extract<DatabaseConfig, { dialect: 'postgres' | 'mysql' }>;

const STDERR_LOG: ConnectionLog = {
  warn: (details, message) => {
    const { err } = details;
    process.stderr.write(`${message}${err instanceof Error ? `: ${err.message}` : ''}\n`);
  },
};

// TCP keepalive finds a server that vanished without closing its connections (a host failover) on idle ones.
const KEEPALIVE_DELAY_MS = 10_000;

async function postgresKysely(config: ServerConfig, log: ConnectionLog, queries: KyselyLog): Promise<{ db: Kysely<Schema>; poolStats: () => PoolStats }> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
    database: config.database,
    max: config.maxConnections,
    idleTimeoutMillis: config.idleTimeoutMs,
    connectionTimeoutMillis: config.connectTimeoutMs,
    // The server gives up on a statement when the client does (see boundedPostgresPool), so it does not keep
    // running, and holding locks, for nobody.
    statement_timeout: config.queryTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    ssl: config.tls === false ? false : {
      ca: config.tls.ca,
      cert: config.tls.cert,
      key: config.tls.key,
      rejectUnauthorized: config.tls.verify !== 'none',
      // verify-ca checks the chain but not the host name.
      ...(config.tls.verify === 'ca' ? { checkServerIdentity: () => undefined } : {}),
    },
  });
  const limits = { acquireTimeoutMs: config.poolTimeoutMs, queryTimeoutMs: config.queryTimeoutMs };
  return {
    db: new Kysely<Schema>({ dialect: new PostgresDialect({ pool: boundedPostgresPool(pool, limits, log) }), log: queries }),
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
  };
}

const MYSQL_SQL_MODE = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';

async function mysqlKysely(config: ServerConfig, log: ConnectionLog, queries: KyselyLog): Promise<{ db: Kysely<Schema>; poolStats: () => PoolStats }> {
  const { createPool: createMysqlPool } = await import('mysql2');
  const options: MysqlPoolOptions = {
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
    database: config.database,
    connectionLimit: config.maxConnections,
    idleTimeout: config.idleTimeoutMs,
    connectTimeout: config.connectTimeoutMs,
    enableKeepAlive: true,
    keepAliveInitialDelay: KEEPALIVE_DELAY_MS,
    charset: 'UTF8MB4_BIN',
    supportBigNumbers: true,
    ssl: config.tls === false ? undefined : {
      ca: config.tls.ca,
      cert: config.tls.cert,
      key: config.tls.key,
      rejectUnauthorized: true,
      ...(config.tls.verify === 'ca' ? { checkServerIdentity: () => undefined } : {}),
    },
  };
  const limits = { acquireTimeoutMs: config.poolTimeoutMs, queryTimeoutMs: config.queryTimeoutMs };
  const raw = createMysqlPool(options);
  const pool = boundedMysqlPool(raw, limits, log);
  const db = new Kysely<Schema>({
    log: queries,
    dialect: new MysqlDialect({
      pool,
      // Strict mode turns over-long values into errors instead of silent truncation; READ COMMITTED makes
      // a read after a row lock see the latest committed rows (as on PostgreSQL) and takes fewer gap locks.
      onCreateConnection: async (connection) => {
        await connection.executeQuery(CompiledQuery.raw(`set session sql_mode = '${MYSQL_SQL_MODE}'`));
        await connection.executeQuery(CompiledQuery.raw('set session transaction isolation level read committed'));
      },
    }),
  });
  return { db, poolStats: () => mysqlPoolStats(raw) };
}

/**
 * mysql2 has no public pool counters; its pool keeps them in these fields (stable since mysql2 1.x). A missing
 * field reads as 0 rather than failing a metrics scrape.
 */
function mysqlPoolStats(pool: unknown): PoolStats {
  const internals = pool as { _allConnections?: { length: number }; _freeConnections?: { length: number }; _connectionQueue?: { length: number } };
  return {
    total: internals._allConnections?.length ?? 0,
    idle: internals._freeConnections?.length ?? 0,
    waiting: internals._connectionQueue?.length ?? 0,
  };
}
