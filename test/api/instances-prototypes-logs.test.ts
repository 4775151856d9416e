// Issue 15's API on every dialect: the registry of instances behind GET /superuser/instances (heartbeats with
// an injected clock: seen, not seen, purged; a database outage logged once and survived), a default
// permission's role changed in place (PUT /organization/<org>/prototypes/<id>), and the usage logs' Quay date
// filters (starttime/endtime as MM/DD/YYYY in UTC) on a repository, an organization and the whole log, with
// every bad input a 400 in Quay's error JSON.
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { after, before, describe, it } from 'node:test';
import type { InstanceRecord } from '../../src/db/instances.js';
import { KyselyInstanceRegistry } from '../../src/db/instances.js';
import { startInstanceHeartbeat } from '../../src/health/instance-heartbeat.js';
import { ALL_DIALECTS } from '../helpers/databases.js';
import { ADMIN, assertError, auditRows, startApi, type Api } from './harness.js';

const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);
const NOT_SEEN_MS = 60_000;
const PURGE_MS = 600_000;

const HEALTHY = {
  instance: { status_code: 200, services: { database: true } },
  endtoend: { status_code: 200, services: { database: true, storage: true } },
};

function identity(id: string, port: number): Pick<InstanceRecord, 'id' | 'hostname' | 'addresses' | 'version' | 'startedAt'> {
  return { id, hostname: `host-${id}`, addresses: [`http://10.0.0.${port % 250}:${port}`], version: '0.1.0', startedAt: new Date(T0) };
}

/** A log line collector standing in for pino (the heartbeat's log is its only output besides the table). */
function logLines() {
  const lines: Array<{ level: 'warn' | 'info'; message: string; details: object }> = [];
  return {
    lines,
    log: {
      warn: (details: object, message: string) => lines.push({ level: 'warn', message, details }),
      info: (details: object, message: string) => lines.push({ level: 'info', message, details }),
    },
  };
}

const mmddyyyy = (date: Date) => `${String(date.getUTCMonth() + 1).padStart(2, '0')}/${String(date.getUTCDate()).padStart(2, '0')}/${date.getUTCFullYear()}`;

for (const dialect of ALL_DIALECTS) {
  describe(`api: instances, prototype roles and log dates on ${dialect}`, () => {
    let api: Api;
    let registry: KyselyInstanceRegistry;
    let clock = T0;
    let admin: string;
    let alice: string;

    before(async () => {
      api = await startApi(dialect, {}, undefined, {
        instances: { list: () => registry.list(), notSeenAfterMs: NOT_SEEN_MS, selfId: 'alpha', now: () => clock },
      });
      registry = new KyselyInstanceRegistry(api.fresh.database);
      admin = await api.signIn(ADMIN.name, ADMIN.password);
      await api.createUser('alice', 'alice-password-1');
      alice = await api.signIn('alice', 'alice-password-1');
    });
    after(() => api?.close());

    it('lists every instance that beats, says which are not seen, and purges the long gone', async () => {
      assertError(await api.call('GET', '/superuser/instances'), 401);
      assertError(await api.call('GET', '/superuser/instances', { cookie: alice }), 403);
      assert.deepEqual((await api.call('GET', '/superuser/instances', { cookie: admin })).json, { instances: [], not_seen_after_seconds: 60 });

      const { log } = logLines();
      const beatOf = (id: string, port: number, health = HEALTHY) =>
        startInstanceHeartbeat({ registry, identity: identity(id, port), probe: async () => health, intervalMs: 15_000, purgeAfterMs: PURGE_MS, now: () => clock, log, timer: false });
      const alpha = beatOf('alpha', 5000);
      const degraded = { ...HEALTHY, endtoend: { status_code: 503, services: { database: true, storage: false } } };
      const beta = beatOf('beta', 5001, degraded);
      await Promise.all([alpha.beat(), beta.beat()]);

      let listed = await api.call('GET', '/superuser/instances/', { cookie: admin });
      assert.equal(listed.status, 200);
      type View = { id: string; hostname: string; addresses: string[]; seen: boolean; this_instance: boolean; last_seen: string; seen_seconds_ago: number; health: typeof HEALTHY };
      let views = listed.json.instances as View[];
      assert.deepEqual(views.map((v) => [v.id, v.seen, v.this_instance]).sort(), [['alpha', true, true], ['beta', true, false]]);
      const betaView = views.find((v) => v.id === 'beta')!;
      assert.equal(betaView.hostname, 'host-beta');
      assert.deepEqual(betaView.addresses, ['http://10.0.0.1:5001']);
      assert.deepEqual(betaView.health, degraded, 'the latest results are stored as the instance saw them');
      assert.equal(betaView.last_seen, new Date(T0).toUTCString().replace('GMT', '-0000'));

      // beta stops beating; alpha goes on. Past the bound beta is "not seen", with how long ago.
      clock = T0 + NOT_SEEN_MS + 1000;
      await alpha.beat();
      views = (await api.call('GET', '/superuser/instances', { cookie: admin })).json.instances as View[];
      assert.deepEqual(views.map((v) => [v.id, v.seen]), [['alpha', true], ['beta', false]], 'most recently seen first');
      assert.equal(views[1]!.seen_seconds_ago, 61);

      // Past the purge bound a live instance's beat deletes the row.
      clock = T0 + PURGE_MS + 1000;
      await alpha.beat();
      views = (await api.call('GET', '/superuser/instances', { cookie: admin })).json.instances as View[];
      assert.deepEqual(views.map((v) => v.id), ['alpha']);
      await Promise.all([alpha.stop(), beta.stop()]);
    });

    it('a database outage fails beats quietly (logged once) and the next beat after it writes again', async () => {
      const { lines, log } = logLines();
      const gamma = startInstanceHeartbeat({ registry, identity: identity('gamma', 5002), probe: async () => HEALTHY, intervalMs: 15_000, purgeAfterMs: PURGE_MS, now: () => clock, log, timer: false });
      // The table out of reach stands in for the database: every write and purge fails as it would.
      await sql`alter table serving_instance rename to serving_instance_away`.execute(api.fresh.database.db);
      try {
        await gamma.beat();
        await gamma.beat();
        assert.equal(lines.filter((l) => l.level === 'warn').length, 1, 'one warning for the whole outage');
        assert.match(lines[0]!.message, /heartbeat failed, will retry/);
      } finally {
        await sql`alter table serving_instance_away rename to serving_instance`.execute(api.fresh.database.db);
      }
      await gamma.beat();
      assert.ok(lines.some((l) => l.level === 'info' && /written again/.test(l.message)));
      assert.ok((await registry.list()).some((i) => i.id === 'gamma'));
      // A probe that throws is as survivable as the database.
      const broken = startInstanceHeartbeat({ registry, identity: identity('delta', 5003), probe: async () => Promise.reject(new Error('probe exploded')), intervalMs: 15_000, purgeAfterMs: PURGE_MS, now: () => clock, log, timer: false });
      await broken.beat();
      assert.ok(lines.some((l) => l.level === 'warn' && (l.details as { error?: string }).error === 'probe exploded'));
      await Promise.all([gamma.stop(), broken.stop()]);
    });

    it('changes a default permission role in place (PUT prototypes/<id>) and refuses bad input', async () => {
      assert.equal((await api.call('POST', '/organization/', { cookie: alice, body: { name: 'acme' } })).status, 201);
      assert.equal((await api.call('PUT', '/organization/acme/robots/ci', { cookie: alice, body: {} })).status, 201);
      const created = await api.call('POST', '/organization/acme/prototypes', { cookie: alice, body: { delegate: { kind: 'user', name: 'acme+ci' }, role: 'read' } });
      assert.equal(created.status, 200);
      const id = created.json.id as string;

      const changed = await api.call('PUT', `/organization/acme/prototypes/${id}`, { cookie: alice, body: { role: 'admin' } });
      assert.equal(changed.status, 200);
      assert.deepEqual(changed.json, { id, role: 'admin', delegate: { name: 'acme+ci', kind: 'user', is_robot: true, is_org_member: false } });
      const listed = await api.call('GET', '/organization/acme/prototypes', { cookie: alice });
      assert.deepEqual((listed.json.prototypes as Array<{ id: string; role: string }>).map((p) => [p.id, p.role]), [[id, 'admin']]);
      // The same role again is fine (MySQL reports such an update as touching no row).
      assert.equal((await api.call('PUT', `/organization/acme/prototypes/${id}`, { cookie: alice, body: { role: 'admin' } })).status, 200);
      const [row] = await auditRows(api, 'modify_prototype_permission');
      assert.deepEqual(row?.metadata, { id, role: 'admin', original_role: 'admin', delegate: { kind: 'user', name: 'acme+ci' } });

      // The next repository gets the new role.
      assert.equal((await api.call('POST', '/repository', { cookie: alice, body: { namespace: 'acme', repository: 'web', visibility: 'private', description: '' } })).status, 201);
      const perms = await api.call('GET', '/repository/acme/web/permissions/user/', { cookie: alice });
      assert.equal((perms.json.permissions as Record<string, { role: string }>)['acme+ci']?.role, 'admin');

      assertError(await api.call('PUT', `/organization/acme/prototypes/${id}`, { cookie: alice, body: { role: 'owner' } }), 400, 'invalid_request', /role/);
      assertError(await api.call('PUT', `/organization/acme/prototypes/${id}`, { cookie: alice, body: {} }), 400, 'invalid_request', /role/);
      assertError(await api.call('PUT', `/organization/acme/prototypes/${id}`, { cookie: alice, raw: '{"role":', contentType: 'application/json' }), 400);
      assertError(await api.call('PUT', '/organization/acme/prototypes/00000000-0000-0000-0000-000000000000', { cookie: alice, body: { role: 'read' } }), 404, undefined, /no default permission/);
      assertError(await api.call('PUT', `/organization/acme/prototypes/${'x'.repeat(70)}`, { cookie: alice, body: { role: 'read' } }), 404);
      assertError(await api.call('PUT', `/organization/acme/prototypes/${id}`, { body: { role: 'read' } }), 401);
      await api.createUser('bob', 'bob-password-1');
      const bob = await api.signIn('bob', 'bob-password-1');
      assertError(await api.call('PUT', `/organization/acme/prototypes/${id}`, { cookie: bob, body: { role: 'read' } }), 403);
      // Another organization's admin cannot reach it through its own organization.
      assert.equal((await api.call('POST', '/organization/', { cookie: bob, body: { name: 'other' } })).status, 201);
      assertError(await api.call('PUT', `/organization/other/prototypes/${id}`, { cookie: bob, body: { role: 'read' } }), 404);
    });

    it('filters the repository, organization and whole logs by Quay dates, and refuses bad ones', async () => {
      const today = mmddyyyy(new Date());
      const q = (start: string, end: string) => `?starttime=${encodeURIComponent(start)}&endtime=${encodeURIComponent(end)}`;
      for (const [path, cookie] of [['/repository/acme/web/logs', alice], ['/organization/acme/logs', alice], ['/superuser/logs', admin]] as const) {
        const ranged = await api.call('GET', `${path}${q(today, today)}`, { cookie });
        assert.equal(ranged.status, 200, `${path}: ${JSON.stringify(ranged.body)}`);
        assert.ok((ranged.json.logs as unknown[]).length > 0, `${path}: today's entries`);
        const past = await api.call('GET', `${path}${q('01/01/2001', '01/31/2001')}`, { cookie });
        assert.deepEqual(past.json.logs, [], `${path}: nothing in 2001`);
        assert.equal(past.json.start_time, 'Mon, 01 Jan 2001 00:00:00 -0000');
        assert.equal(past.json.end_time, 'Thu, 01 Feb 2001 00:00:00 -0000', 'the end day is included whole');

        assertError(await api.call('GET', `${path}?starttime=13/45/2020`, { cookie }), 400, 'invalid_request', /starttime must be MM\/DD\/YYYY/);
        assertError(await api.call('GET', `${path}?starttime=02/30/2026`, { cookie }), 400, 'invalid_request', /starttime/);
        assertError(await api.call('GET', `${path}?endtime=tomorrow`, { cookie }), 400, 'invalid_request', /endtime/);
        assertError(await api.call('GET', `${path}?starttime=`, { cookie }), 400, 'invalid_request', /starttime/);
        assertError(await api.call('GET', `${path}${q('02/01/2026', '01/01/2026')}`, { cookie }), 400, 'invalid_request', /endtime is before starttime: "01\/01\/2026" comes before "02\/01\/2026"/);
        assertError(await api.call('GET', `${path}?starttime=${'1'.repeat(100)}`, { cookie }), 400, 'invalid_request', /starttime/);
        assertError(await api.call('GET', `${path}?starttime=01/01/2999`, { cookie }), 400, 'invalid_request', /endtime is before starttime: now comes before "01\/01\/2999"/);
        // An end alone is the seven days up to it, not seven days back from today.
        const endOnly = await api.call('GET', `${path}?endtime=01/31/2001`, { cookie });
        assert.equal(endOnly.status, 200);
        assert.equal(endOnly.json.start_time, 'Thu, 25 Jan 2001 00:00:00 -0000');
      }
    });
  });
}
