import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Metadata } from '../../src/db/metadata.js';
import { configSchema } from '../../src/config/schema.js';
import { healthCheckerFrom, rdsAwarePolicy } from '../../src/health/rds-health.js';
import { rdsStatusLookup } from '../../src/health/rds-status.js';
import { freePort } from '../helpers/processes.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';
import { startFakeRds, type FakeRds } from './rds-fake-endpoint.js';

/** Metadata whose ping fails while `down.value` is true (the database unreachable from this instance). */
function switchablePing(down: { value: boolean }) {
  return (m: Metadata): Metadata => ({
    repositories: m.repositories,
    blobs: m.blobs,
    uploads: m.uploads,
    manifests: m.manifests,
    tags: m.tags,
    garbage: m.garbage,
    ping: async () => {
      if (down.value) throw new Error('connection refused');
      await m.ping();
    },
    close: () => m.close(),
  });
}

const CREDENTIALS = { accessKey: 'AKIDTEST', secretKey: 'secret-test', region: 'us-east-1' };

describe('RDSAwareHealthCheck on /health/instance (real @aws-sdk/client-rds, local RDS Query API endpoint)', () => {
  let fake: FakeRds;
  const started: TestRegistry[] = [];
  before(async () => {
    fake = await startFakeRds({ 'quay-db': 'available' });
  });
  after(async () => {
    for (const reg of started) await reg.close();
    await fake.close();
  });

  async function registry(dbInstance: string, down: { value: boolean }, endpoint = fake.url): Promise<TestRegistry> {
    // cacheMs 0: each probe asks RDS, so one registry can walk through several RDS states.
    const policy = rdsAwarePolicy(rdsStatusLookup({ ...CREDENTIALS, dbInstance, endpoint, cacheMs: 0 }));
    const reg = await startTestRegistry({ wrapMetadata: switchablePing(down), healthPolicy: policy });
    started.push(reg);
    return reg;
  }

  async function probe(reg: TestRegistry): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${reg.url}/health/instance`);
    return { status: res.status, body: await res.json() };
  }

  it('answers 200 without asking RDS while the database answers', async () => {
    const reg = await registry('quay-db', { value: false });
    const before = fake.requests;
    assert.deepEqual(await probe(reg), { status: 200, body: { data: { services: { database: true } }, status_code: 200 } });
    assert.equal(fake.requests, before, 'RDS was not asked');
  });

  it('answers 503 when the database is down and RDS says it is available (the fault is this instance)', async () => {
    fake.states.set('quay-db', 'available');
    const reg = await registry('quay-db', { value: true });
    const before = fake.requests;
    assert.deepEqual(await probe(reg), { status: 503, body: { data: { services: { database: false } }, status_code: 503 } });
    assert.equal(fake.requests, before + 1, 'RDS was asked once');
  });

  it('stays 200 (database reported false, as Quay does) while RDS reboots, fails over, upgrades or maintains the instance', async () => {
    const reg = await registry('quay-db', { value: true });
    for (const state of ['rebooting', 'modifying', 'maintenance', 'upgrading', 'backing-up', 'backtracking']) {
      fake.states.set('quay-db', state);
      assert.deepEqual(await probe(reg), { status: 200, body: { data: { services: { database: false } }, status_code: 200 } }, state);
    }
  });

  it('answers 503 for RDS states that are not a transient RDS operation', async () => {
    const reg = await registry('quay-db', { value: true });
    for (const state of ['stopped', 'failed', 'storage-full', 'configuring-log-exports', 'renaming', 'deleting']) {
      fake.states.set('quay-db', state);
      assert.equal((await probe(reg)).status, 503, state);
    }
  });

  it('answers 503 for an instance RDS does not know (DBInstanceNotFound)', async () => {
    const reg = await registry('no-such-db', { value: true });
    assert.equal((await probe(reg)).status, 503);
  });

  it('answers 503 when the RDS API fails (500 InternalFailure, 403 AccessDenied)', async () => {
    fake.states.set('quay-db', 'rebooting');
    const reg = await registry('quay-db', { value: true });
    try {
      for (const failWith of [{ status: 500, code: 'InternalFailure' }, { status: 403, code: 'AccessDenied' }]) {
        fake.failWith = failWith;
        assert.equal((await probe(reg)).status, 503, failWith.code);
      }
    } finally {
      fake.failWith = undefined;
    }
  });

  it('answers 503 when RDS cannot be reached at all', async () => {
    const reg = await registry('quay-db', { value: true }, `http://127.0.0.1:${await freePort()}`);
    assert.equal((await probe(reg)).status, 503);
  });

  it('reuses one RDS answer for probes within the cache window, concurrent ones included', async () => {
    fake.states.set('quay-db', 'rebooting');
    const lookup = rdsStatusLookup({ ...CREDENTIALS, dbInstance: 'quay-db', endpoint: fake.url, cacheMs: 60_000 });
    const reg = await startTestRegistry({ wrapMetadata: switchablePing({ value: true }), healthPolicy: rdsAwarePolicy(lookup) });
    started.push(reg);
    const before = fake.requests;
    const results = await Promise.all([probe(reg), probe(reg), probe(reg)]);
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200]);
    assert.equal((await probe(reg)).status, 200);
    assert.equal(fake.requests, before + 1);
  });

  it('leaves /health/endtoend alone: it still answers 503 while RDS reboots', async () => {
    fake.states.set('quay-db', 'rebooting');
    const reg = await registry('quay-db', { value: true });
    assert.equal((await fetch(`${reg.url}/health/endtoend`)).status, 503);
  });
});

describe('HEALTH_CHECKER configuration', () => {
  it("takes Quay's forms and defaults", () => {
    assert.deepEqual(configSchema.parse({}).HEALTH_CHECKER, ['LocalHealthCheck', {}]);
    assert.deepEqual(configSchema.parse({ HEALTH_CHECKER: ['LocalHealthCheck', null] }).HEALTH_CHECKER, ['LocalHealthCheck', {}]);
    assert.equal(healthCheckerFrom(configSchema.parse({})), undefined);
    const rds = configSchema.parse({ HEALTH_CHECKER: ['RDSAwareHealthCheck', { access_key: 'a', secret_key: 'b' }] }).HEALTH_CHECKER;
    assert.deepEqual(rds, ['RDSAwareHealthCheck', { access_key: 'a', secret_key: 'b', region: 'us-east-1', db_instance: 'quay' }]);
    assert.equal(typeof healthCheckerFrom({ HEALTH_CHECKER: rds }), 'function');
  });

  it('refuses bad values naming the key', () => {
    for (const value of [['NoSuchCheck', {}], ['RDSAwareHealthCheck', { region: 'nowhere' }], ['RDSAwareHealthCheck', { access_key: 'a' }], ['RDSAwareHealthCheck', { typo: 1 }]]) {
      const result = configSchema.safeParse({ HEALTH_CHECKER: value });
      assert.equal(result.success, false, JSON.stringify(value));
      assert.equal(result.error?.issues[0]?.path[0], 'HEALTH_CHECKER', JSON.stringify(value));
    }
  });
});
