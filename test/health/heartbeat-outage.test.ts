// The instance heartbeat is never critical: `quayside serve` (one process, then a primary with two workers) on
// a private PostgreSQL that the test really stops. While the database is down the heartbeat's failure is
// logged once, the process keeps running and answers what needs no database (/v1/_ping, /health/instance says
// database: false); once PostgreSQL is back the next heartbeat writes the instance's row again.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { PrivateDatabaseServer } from '../helpers/private-db-process.js';
import { startPrivatePostgres } from '../helpers/private-postgres.js';
import { startQuayside, type RegistryServer } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

/** The instance rows as the database holds them: id -> last_seen_at (ms). */
async function instanceRows(uri: string): Promise<Map<string, number>> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try {
    const result = await client.query<{ id: string; last_seen_at: string }>('select id, last_seen_at from serving_instance');
    return new Map(result.rows.map((row) => [row.id, Number(row.last_seen_at)]));
  } finally {
    await client.end();
  }
}

for (const workers of ['1', '2']) {
  describe(`the instance heartbeat through a database outage (--workers ${workers})`, () => {
    let work: string;
    let database: PrivateDatabaseServer;
    let server: RegistryServer;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'quayside-heartbeat-outage-'));
      database = await startPrivatePostgres();
      const config = join(work, 'config.yaml');
      await writeFile(
        config,
        [
          `DB_URI: ${database.uri}`,
          'DB_CONNECTION_ARGS: {connect_timeout: 1, query_timeout: 2, pool_timeout: 2}',
          'DISTRIBUTED_STORAGE_CONFIG:',
          `  local: [LocalStorage, {storage_path: ${JSON.stringify(join(work, 'storage'))}}]`,
          'DISTRIBUTED_STORAGE_PREFERENCE: [local]',
          'INSTANCE_HEARTBEAT_S: 1',
          'INSTANCE_NOT_SEEN_AFTER_S: 3',
          '',
        ].join('\n'),
      );
      server = await startQuayside({ config, serveArgs: ['--workers', workers] });
    });

    after(async () => {
      await server?.stop();
      await database?.destroy();
      await rm(work, { recursive: true, force: true });
    });

    it('records one row for the instance', async () => {
      const rows = await waitUntil('the first heartbeat', async () => {
        const found = await instanceRows(database.uri);
        return found.size > 0 && found;
      }, 30_000, 100);
      assert.equal(rows.size, 1, 'one row per instance, whatever its worker count');
    });

    it('logs the failure once, keeps serving, and writes again when the database is back', async () => {
      const [id] = [...(await instanceRows(database.uri)).keys()];
      await database.stop();
      await server.process.waitForLine(/instance registry: heartbeat failed, will retry/, 30_000);
      // A few more beats fail in the meantime; the warning is not repeated.
      const ping = await fetch(`${server.url}/v1/_ping`);
      assert.equal(ping.status, 200);
      const instance = await fetch(`${server.url}/health/instance`);
      assert.equal(instance.status, 503);
      assert.deepEqual(await instance.json(), { data: { services: { database: false } }, status_code: 503 });
      assert.ok(server.process.running());
      const stoppedAt = Date.now();

      await database.start();
      await server.process.waitForLine(/instance registry: heartbeat written again/, 30_000);
      const rows = await instanceRows(database.uri);
      assert.ok((rows.get(id!) ?? 0) >= stoppedAt, 'the same row, written after the outage');
      const warnings = [...server.process.stdoutLines(), ...server.process.stderrLines()].filter((line) => line.includes('heartbeat failed'));
      assert.equal(warnings.length, 1, 'one warning for the whole outage');
      assert.ok(server.process.running());
    });
  });
}
