import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import type { Pool, PoolClient } from 'pg';
import { withDeadline, type ConnectionLog, type PoolLimits } from './pool-bounds.js';
import { asDatabaseUnavailable, DatabaseUnavailableError } from './unavailable.js';

/**
 * A node-pg pool as Kysely's PostgresPool, made to survive its server: every client has an error listener for
 * its whole life, every wait is bounded, connection-level failures become DatabaseUnavailableError, and a
 * connection that failed or timed out is dropped from the pool instead of being handed out again.
 */
export function boundedPostgresPool(pool: Pool, limits: PoolLimits, log: ConnectionLog): PostgresPool {
  // pg-pool listens for errors only on idle clients. A checked-out client whose server goes away between two
  // statements (a transaction waiting on storage) would emit 'error' with no listener and end the process.
  pool.on('connect', (client) => {
    client.on('error', (error) => log.warn({ err: error }, 'database connection lost; it is replaced on next use'));
  });
  // The client's own listener above has logged it; pg-pool has already removed the idle client.
  pool.on('error', () => undefined);
  const wrappers = new WeakMap<PoolClient, BoundedPostgresClient>();
  return {
    async connect(): Promise<PostgresPoolClient> {
      let client: PoolClient;
      try {
        client = await withDeadline(
          pool.connect(),
          limits.acquireTimeoutMs,
          `database unavailable: no connection within ${limits.acquireTimeoutMs} ms`,
          (late) => late.release(),
        );
      } catch (error) {
        throw asDatabaseUnavailable(error);
      }
      let wrapper = wrappers.get(client);
      if (wrapper === undefined) {
        wrapper = new BoundedPostgresClient(client, limits.queryTimeoutMs);
        wrappers.set(client, wrapper);
      }
      return wrapper;
    },
    end: () => pool.end(),
  };
}

/** One pooled connection (Kysely keeps one wrapper per connection, keyed by this object). */
class BoundedPostgresClient implements PostgresPoolClient {
  private broken: DatabaseUnavailableError | undefined;

  constructor(
    private readonly client: PoolClient,
    private readonly queryTimeoutMs: number,
  ) {}

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(sqlOrCursor: string | PostgresCursor<R>, parameters: ReadonlyArray<unknown> = []): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    // No cursor is configured on the dialect, so Kysely never streams through here.
    if (typeof sqlOrCursor !== 'string') throw new TypeError('streaming queries are not configured');
    return this.run<R>(sqlOrCursor, parameters);
  }

  private async run<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
    // A rollback after a lost connection must fail at once, not wait for its own timeout.
    if (this.broken !== undefined) throw new DatabaseUnavailableError(this.broken.message, { cause: this.broken });
    try {
      const result = await withDeadline(
        this.client.query(sql, [...parameters]),
        this.queryTimeoutMs,
        `database unavailable: no answer within ${this.queryTimeoutMs} ms`,
      );
      return result as unknown as PostgresQueryResult<R>;
    } catch (error) {
      const classified = asDatabaseUnavailable(error);
      if (classified instanceof DatabaseUnavailableError) this.drop(classified);
      throw classified;
    }
  }

  /** Never reuse this connection; end() with a statement in flight destroys the socket, so nothing waits on it. */
  private drop(reason: DatabaseUnavailableError): void {
    if (this.broken !== undefined) return;
    this.broken = reason;
    this.client.end().catch(() => undefined);
  }

  release(): void {
    // With an error, pg-pool removes the client instead of keeping it idle.
    this.client.release(this.broken);
  }
}
