// Connection-level faults on a real server, one pool at a time: a session killed by the server while the
// application holds it, a statement that does not answer, a pool with no free connection, nobody listening.
// Killing our own session (pg_terminate_backend, KILL) is how the server ends sessions on a restart or a
// failover (57P01 / connection lost), without touching the shared server itself.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { openDatabase, type Database } from '../../src/db/database.js';
import { DatabaseUnavailableError } from '../../src/db/unavailable.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { freePort } from '../helpers/processes.js';

interface LogEntry {
  details: Record<string, unknown>;
  message: string;
}

function collectingLog(): { entries: LogEntry[]; warn(details: Record<string, unknown>, message: string): void } {
  const entries: LogEntry[] = [];
  return { entries, warn: (details, message) => entries.push({ details, message }) };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function isUnavailable(pattern?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof DatabaseUnavailableError, `expected DatabaseUnavailableError, got ${String(error)}`);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  };
}

const DIALECTS = [
  {
    dialect: 'postgres' as const,
    sessionId: sql<{ id: number }>`select pg_backend_pid() as id`,
    kill: (id: number) => sql`select pg_terminate_backend(${id})`,
    sleep: sql`select pg_sleep(30)`,
  },
  {
    dialect: 'mysql' as const,
    sessionId: sql<{ id: number }>`select connection_id() as id`,
    kill: (id: number) => sql.raw(`kill ${Number(id)}`),
    sleep: sql`select sleep(30)`,
  },
];

for (const spec of DIALECTS) {
  describe(`${spec.dialect}: connection faults`, () => {
    let fresh: FreshDatabase;
    const opened: Database[] = [];
    const open = async (connectionArgs: Record<string, unknown>, log = collectingLog()) => {
      const database = await openDatabase({ uri: fresh.uri, connectionArgs, log });
      opened.push(database);
      return database;
    };
    before(async () => {
      fresh = await freshDatabase(spec.dialect, { migrate: false });
    });
    after(async () => {
      for (const database of opened) await database.close().catch(() => undefined);
      await fresh.drop();
    });

    it('a session ended by the server while held between statements is logged, not fatal; the pool goes on', async () => {
      const log = collectingLog();
      const database = await open({}, log);
      const outcome = database.db.transaction().execute(async (trx) => {
        const { rows } = await spec.sessionId.execute(trx);
        await spec.kill(Number(rows[0]!.id)).execute(fresh.database.db);
        // The server's notice arrives while no statement is running on this connection: before the fix,
        // node-pg emitted an 'error' nobody listened to, and the process died here.
        await waitFor('the lost connection to be reported', () => log.entries.length > 0);
        await sql`select 1`.execute(trx);
      });
      await assert.rejects(outcome, isUnavailable());
      assert.match(log.entries[0]!.message, /database connection lost/);
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(database.db);
      assert.equal(Number(rows[0]!.one), 1);
    });

    it('a statement without an answer fails after query_timeout and its connection is replaced', async () => {
      const database = await open({ query_timeout: 0.5, max_connections: 1 });
      const started = Date.now();
      await assert.rejects(spec.sleep.execute(database.db), isUnavailable());
      // The statement itself would take 30 s.
      assert.ok(Date.now() - started < 20_000, 'the statement was not cut short');
      // The pool's only connection was dropped, so this one is new and answers at once.
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(database.db);
      assert.equal(Number(rows[0]!.one), 1);
    });

    it('waiting for a pooled connection ends after pool_timeout', async () => {
      const database = await open({ pool_timeout: 0.3, max_connections: 1 });
      let finish: () => void = () => undefined;
      const held = new Promise<void>((resolve) => {
        finish = resolve;
      });
      let holding = false;
      const holder = database.db.connection().execute(async (connection) => {
        await sql`select 1`.execute(connection);
        holding = true;
        await held;
      });
      await waitFor('the only connection to be held', () => holding);
      await assert.rejects(sql`select 1`.execute(database.db), isUnavailable(/no connection within 300 ms/));
      finish();
      await holder;
      // The connection that came back late to the timed-out waiter was given back, not leaked.
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(database.db);
      assert.equal(Number(rows[0]!.one), 1);
    });

    it('a server nobody listens on is unavailable, not an internal error', async () => {
      const port = await freePort();
      const uri = spec.dialect === 'postgres' ? `postgresql://postgres@127.0.0.1:${port}/x` : `mysql://root@127.0.0.1:${port}/x`;
      const database = await openDatabase({ uri, connectionArgs: { connect_timeout: 2 }, log: collectingLog() });
      opened.push(database);
      await assert.rejects(sql`select 1`.execute(database.db), isUnavailable(/ECONNREFUSED/));
    });
  });
}
