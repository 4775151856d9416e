import type { MysqlPool, MysqlPoolConnection, MysqlQueryResult, MysqlStreamOptions, MysqlStream } from 'kysely';
import type { Pool, PoolConnection } from 'mysql2';
import { withDeadline, type ConnectionLog, type PoolLimits } from './pool-bounds.js';
import { asDatabaseUnavailable, DatabaseUnavailableError } from './unavailable.js';

/**
 * A mysql2 pool as Kysely's MysqlPool, made to survive its server as boundedPostgresPool does: a lifelong
 * error listener per connection, bounded waits, DatabaseUnavailableError for connection-level failures, and a
 * failed or timed-out connection destroyed (which frees its pool slot at once) instead of reused.
 */
export function boundedMysqlPool(pool: Pool, limits: PoolLimits, log: ConnectionLog): MysqlPool {
  // mysql2's own listener on a pooled connection is a once('error'): a second error event would be unhandled.
  pool.on('connection', (connection) => {
    connection.on('error', (error) => log.warn({ err: error }, 'database connection lost; it is replaced on next use'));
  });
  const wrappers = new WeakMap<PoolConnection, BoundedMysqlConnection>();
  const wrap = (connection: PoolConnection): BoundedMysqlConnection => {
    let wrapper = wrappers.get(connection);
    if (wrapper === undefined) {
      wrapper = new BoundedMysqlConnection(connection, limits.queryTimeoutMs);
      wrappers.set(connection, wrapper);
    }
    return wrapper;
  };
  return {
    getConnection(callback: (error: unknown, connection: MysqlPoolConnection) => void): void {
      const acquired = new Promise<PoolConnection>((resolve, reject) => {
        pool.getConnection((error, connection) => (error ? reject(error) : resolve(connection)));
      });
      withDeadline(acquired, limits.acquireTimeoutMs, `database unavailable: no connection within ${limits.acquireTimeoutMs} ms`, (late) =>
        late.release(),
      ).then(
        (connection) => callback(null, wrap(connection)),
        // Kysely reads only the error when there is one.
        (error: unknown) => callback(asDatabaseUnavailable(error), undefined as unknown as MysqlPoolConnection),
      );
    },
    end: (callback) => pool.end(callback),
  };
}

/** One pooled connection (Kysely keeps one wrapper per connection, keyed by this object). */
class BoundedMysqlConnection implements MysqlPoolConnection {
  private broken: DatabaseUnavailableError | undefined;

  constructor(
    private readonly connection: PoolConnection,
    private readonly queryTimeoutMs: number,
  ) {}

  query(sql: string, parameters: Array<unknown>): { stream: <T>(options: MysqlStreamOptions) => MysqlStream<T> };
  query(sql: string, parameters: Array<unknown>, callback: (error: unknown, result: MysqlQueryResult) => void): void;
  query(
    sql: string,
    parameters: Array<unknown>,
    callback?: (error: unknown, result: MysqlQueryResult) => void,
  ): { stream: <T>(options: MysqlStreamOptions) => MysqlStream<T> } | void {
    // Nothing streams rows through Kysely here; an unbounded stream must not slip in unnoticed.
    if (callback === undefined) throw new TypeError('streaming queries are not supported');
    const noResult = undefined as unknown as MysqlQueryResult;
    if (this.broken !== undefined) {
      const reason = this.broken;
      process.nextTick(() => callback(new DatabaseUnavailableError(reason.message, { cause: reason }), noResult));
      return;
    }
    let answered = false;
    const answer = (error: unknown, result: MysqlQueryResult) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      if (error === null || error === undefined) {
        callback(null, result);
        return;
      }
      const classified = asDatabaseUnavailable(error);
      if (classified instanceof DatabaseUnavailableError) this.drop(classified);
      callback(classified, noResult);
    };
    const timer = setTimeout(
      () => answer(new DatabaseUnavailableError(`database unavailable: no answer within ${this.queryTimeoutMs} ms`), noResult),
      this.queryTimeoutMs,
    );
    this.connection.query(sql, parameters, (error, result) => answer(error, result as MysqlQueryResult));
  }

  /** Never reuse this connection: destroying it frees its pool slot and ends whatever waits on it. */
  private drop(reason: DatabaseUnavailableError): void {
    if (this.broken !== undefined) return;
    this.broken = reason;
    this.connection.destroy();
  }

  release(): void {
    // A destroyed connection has left the pool already.
    if (this.broken === undefined) this.connection.release();
  }
}
