// `quayside serve` with HEALTH_CHECKER: [RDSAwareHealthCheck, {..., endpoint}] on a private PostgreSQL that the
// test really stops: while the fake RDS Query API endpoint says the instance is rebooting, /health/instance
// stays 200 (database reported false) and /health/endtoend is 503; the RDS answer is reused within its cache
// window; once PostgreSQL is back, both answer 200 again.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PrivateDatabaseServer } from '../helpers/private-db-process.js';
import { startPrivatePostgres } from '../helpers/private-postgres.js';
import { startQuayside, type RegistryServer } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';
import { startFakeRds, type FakeRds } from './rds-fake-endpoint.js';

describe('quayside serve with RDSAwareHealthCheck and a stopped database', () => {
  let work: string;
  let database: PrivateDatabaseServer;
  let fake: FakeRds;
  let server: RegistryServer;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'quayside-rds-serve-'));
    database = await startPrivatePostgres();
    fake = await startFakeRds({ 'quay-prod': 'rebooting' });
    const config = join(work, 'config.yaml');
    await writeFile(
      config,
      [
        `DB_URI: ${database.uri}`,
        'DB_CONNECTION_ARGS: {connect_timeout: 1, query_timeout: 2, pool_timeout: 2}',
        'DISTRIBUTED_STORAGE_CONFIG:',
        `  local: [LocalStorage, {storage_path: ${JSON.stringify(join(work, 'storage'))}}]`,
        'DISTRIBUTED_STORAGE_PREFERENCE: [local]',
        `HEALTH_CHECKER: [RDSAwareHealthCheck, {access_key: AKIDTEST, secret_key: test-secret, region: eu-west-1, db_instance: quay-prod, endpoint: "${fake.url}"}]`,
        '',
      ].join('\n'),
    );
    server = await startQuayside({ config, env: { QUAYSIDE_LOG_LEVEL: 'error' } });
  });

  after(async () => {
    await server?.stop();
    await database?.destroy();
    await fake?.close();
    await rm(work, { recursive: true, force: true });
  });

  const status = async (path: string) => (await fetch(`${server.url}${path}`)).status;

  it('answers 200 without asking RDS while PostgreSQL is up', async () => {
    assert.equal(await status('/health/instance'), 200);
    assert.equal(fake.requests, 0);
  });

  it('stays 200 on /health/instance while PostgreSQL is stopped and RDS says rebooting; /health/endtoend is 503', async () => {
    await database.stop();
    const res = await fetch(`${server.url}/health/instance`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { data: { services: { database: false } }, status_code: 200 });
    assert.equal(await status('/health/endtoend'), 503);
    for (let i = 0; i < 3; i += 1) assert.equal(await status('/health/instance'), 200);
    // One DescribeDBInstances for all these probes: the answer is reused for its cache window (10 s).
    assert.equal(fake.requests, 1);
  });

  it('answers 200 on both endpoints once PostgreSQL is back', async () => {
    await database.start();
    // A generous bound: on a loaded CI machine the restarted cluster and the pool's reconnects are slow. The last
    // report goes into the failure, so a recovery that never comes says which probe stayed down.
    let last = '';
    await waitUntil(
      'the database back',
      async () => {
        const res = await fetch(`${server.url}/health/endtoend`);
        last = `${res.status} ${await res.text()}`;
        return res.status === 200;
      },
      60_000,
      100,
    ).catch((error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}; last /health/endtoend: ${last}`);
    });
    assert.equal(await status('/health/instance'), 200);
  });
});
