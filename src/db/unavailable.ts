/**
 * The one typed error for "the database cannot be reached right now": refused or lost connections, a server
 * shutting down or restarting (a failover), too many connections, and our own bounds (connect, query, pool
 * acquire) running out. The HTTP layers answer it with 503 and Retry-After instead of 500: the request was
 * fine and will work once the database is back, which a load balancer and a client can act on.
 */

/** Seconds a client is told to wait before retrying (the pool reconnects by itself as soon as it can). */
export const DATABASE_RETRY_AFTER_S = 1;

export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
  readonly retryAfterS = DATABASE_RETRY_AFTER_S;
}

// Node's socket errors for a peer that is not there, went away or does not answer.
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
]);

// PostgreSQL SQLSTATEs of an unavailable server (class 08 is matched as a whole below).
const POSTGRES_CODES = new Set([
  '57P01', // admin_shutdown: the server is stopping (pg_ctl stop -m fast, a failover)
  '57P02', // crash_shutdown: another backend crashed, every session is ended
  '57P03', // cannot_connect_now: starting up, shutting down or in recovery
  '57P05', // idle_session_timeout
  '57014', // query_canceled: statement_timeout ran out
  '25P03', // idle_in_transaction_session_timeout
  '53300', // too_many_connections
  '53400', // configuration_limit_exceeded (e.g. max_locks_per_transaction)
]);

// mysql2's codes (its own protocol errors and the server's ER_* names) for the same situations.
const MYSQL_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'PROTOCOL_ENQUEUE_AFTER_QUIT',
  'PROTOCOL_ENQUEUE_HANDSHAKE_TWICE',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_SERVER_SHUTDOWN',
  'ER_QUERY_INTERRUPTED',
  'ER_NET_READ_ERROR',
  'ER_NET_READ_INTERRUPTED',
  'ER_NET_ERROR_ON_WRITE',
  'ER_NET_WRITE_INTERRUPTED',
  'ER_QUERY_TIMEOUT',
  'ER_CLIENT_INTERACTION_TIMEOUT',
]);

// MariaDB's own numbers, which mysql2 has no names for.
const MARIADB_ERRNOS = new Set([
  1927, // ER_CONNECTION_KILLED
  1969, // ER_STATEMENT_TIMEOUT (max_statement_time)
]);

// SQLite has no server; a lock held past busy_timeout by another process is the nearest "not now".
const SQLITE_CODES = new Set(['SQLITE_BUSY']);

// node-pg raises these without a code.
const POSTGRES_MESSAGES =
  /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Query read timeout|Client was closed and is not queryable)/;
// mysql2 raises this one without a code.
const MYSQL_MESSAGES = /^Can't add new command when connection is in closed state/;

function ownCode(error: object): string | undefined {
  return 'code' in error && (typeof error.code === 'string' || typeof error.code === 'number') ? String(error.code) : undefined;
}

function isUnavailableCode(code: string): boolean {
  return SOCKET_CODES.has(code) || POSTGRES_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code) || MYSQL_CODES.has(code) || SQLITE_CODES.has(code);
}

/**
 * Whether a driver error means the database is unreachable, restarting or out of time (as opposed to a
 * statement the database refused). Follows `cause` chains and AggregateError (a host name that resolves to
 * several addresses fails with one error per address).
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 8) return false;
  if (error instanceof DatabaseUnavailableError) return true;
  const code = ownCode(error);
  if (code !== undefined && isUnavailableCode(code)) return true;
  if ('errno' in error && typeof error.errno === 'number' && MARIADB_ERRNOS.has(error.errno)) return true;
  const message = error instanceof Error ? error.message : '';
  if (POSTGRES_MESSAGES.test(message) || MYSQL_MESSAGES.test(message)) return true;
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.every((inner) => isDatabaseUnavailable(inner, depth + 1));
  }
  return 'cause' in error && isDatabaseUnavailable(error.cause, depth + 1);
}

/** `error` as a DatabaseUnavailableError when it is one by nature (the driver's error kept as cause), else as is. */
export function asDatabaseUnavailable(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError || !isDatabaseUnavailable(error)) return error;
  const code = typeof error === 'object' && error !== null ? ownCode(error) : undefined;
  const text = error instanceof Error ? error.message : String(error);
  return new DatabaseUnavailableError(`database unavailable: ${code === undefined ? text : `${code} ${text}`}`, { cause: error });
}

/** The Retry-After header for a database-unavailable answer. */
export function retryAfterHeader(): Record<string, string> {
  return { 'retry-after': String(DATABASE_RETRY_AFTER_S) };
}
