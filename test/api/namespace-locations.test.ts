// A namespace's own storage locations through the superuser API on every dialect: list, add (idempotent),
// remove; audit rows; each bad input a Quay error JSON (unknown or robot namespace, a location not configured,
// FEATURE_STORAGE_REPLICATION off, removing one not listed); only superusers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALL_DIALECTS } from '../helpers/databases.js';
import { ADMIN, assertError, auditRows, startApi, type Api } from './harness.js';

const REPLICATION = { enabled: true, configured: ['us', 'eu', 'ap'], defaults: ['us', 'eu'] };
const path = (namespace: string, location?: string) => `/superuser/namespaces/${namespace}/storagelocations${location === undefined ? '' : `/${location}`}`;

for (const dialect of ALL_DIALECTS) {
  describe(`api: namespace storage locations on ${dialect}`, () => {
    let api: Api;
    let admin: string;
    let alice: string;
    before(async () => {
      api = await startApi(dialect, {}, undefined, { replication: REPLICATION });
      const owner = await api.createUser('alice', 'alice-password-1');
      await api.services.accounts.accounts.createOrganization({ name: 'acme', email: null, ownerId: owner.id });
      await api.services.accounts.accounts.createRobot({ ownerId: owner.id, name: 'alice+ci', description: null, tokenHash: 'f'.repeat(64) });
      admin = await api.signIn(ADMIN.name, ADMIN.password);
      alice = await api.signIn('alice', 'alice-password-1');
    });
    after(() => api?.close());

    it('lists, adds (once) and removes an organization\'s and a user\'s locations, with audit rows', async () => {
      const empty = await api.call('GET', path('acme'), { cookie: admin });
      assert.equal(empty.status, 200, JSON.stringify(empty.body));
      assert.deepEqual(empty.json, { namespace: 'acme', locations: [], default_locations: ['us', 'eu'], required_locations: ['us', 'eu'], replication_enabled: true });

      const added = await api.call('PUT', path('acme', 'ap'), { cookie: admin });
      assert.equal(added.status, 200, JSON.stringify(added.body));
      assert.deepEqual(added.json.locations, ['ap']);
      assert.deepEqual(added.json.required_locations, ['us', 'eu', 'ap']);
      assert.equal((await api.call('PUT', path('acme', 'ap'), { cookie: admin })).status, 200, 'idempotent');
      // A default location may be listed too: it changes nothing today, and stays if the defaults change.
      assert.deepEqual((await api.call('PUT', path('alice', 'eu'), { cookie: admin })).json.required_locations, ['us', 'eu']);
      const rows = await auditRows(api, 'org_add_storage_location');
      assert.equal(rows.length, 1, 'the second PUT changed nothing and logged nothing');
      assert.equal(rows[0]!.namespace, 'acme');
      assert.deepEqual(rows[0]!.metadata, { namespace: 'acme', location: 'ap' });
      assert.equal(rows[0]!.performer?.name, 'admin');
      assert.equal((await auditRows(api, 'user_add_storage_location')).length, 1);
      assert.deepEqual(await api.services.accounts.namespaceLocations.forNamespace('acme'), ['ap']);

      assert.equal((await api.call('DELETE', path('acme', 'ap'), { cookie: admin })).status, 204);
      assert.deepEqual((await api.call('GET', path('acme'), { cookie: admin })).json.locations, []);
      assert.equal((await auditRows(api, 'org_remove_storage_location')).length, 1);
      assertError(await api.call('DELETE', path('acme', 'ap'), { cookie: admin }), 404, 'not_found', /"ap" is not one of the storage locations of acme/);

      // A location that left DISTRIBUTED_STORAGE_CONFIG can still be removed (how its rows are cleaned up).
      const acme = (await api.services.accounts.accounts.getAccount('acme'))!;
      await api.services.accounts.namespaceLocations.add(acme.id, 'retired');
      assert.deepEqual((await api.call('GET', path('acme'), { cookie: admin })).json.required_locations, ['us', 'eu'], 'an unconfigured one is not required');
      assert.equal((await api.call('DELETE', path('acme', 'retired'), { cookie: admin })).status, 204);
    });

    it('answers each bad input with Quay\'s error JSON', async () => {
      assertError(await api.call('GET', path('nobody'), { cookie: admin }), 404, 'not_found', /namespace "nobody" not found/);
      assertError(await api.call('PUT', path('nobody', 'ap'), { cookie: admin }), 404, 'not_found', /namespace "nobody" not found/);
      assertError(await api.call('DELETE', path('nobody', 'ap'), { cookie: admin }), 404, 'not_found');
      assertError(await api.call('GET', path(encodeURIComponent('alice+ci')), { cookie: admin }), 404, 'not_found', /namespace "alice\+ci" not found/);
      assertError(
        await api.call('PUT', path('acme', 'nowhere'), { cookie: admin }),
        400,
        'invalid_request',
        /^storage location "nowhere" is not in DISTRIBUTED_STORAGE_CONFIG \(us, eu, ap\)$/,
      );
      assertError(await api.call('PUT', path('acme', 'y'.repeat(90)), { cookie: admin }), 400, 'invalid_request', /is not in DISTRIBUTED_STORAGE_CONFIG/);
      assert.deepEqual((await api.call('GET', path('acme'), { cookie: admin })).json.locations, [], 'nothing was added');
    });

    it('is for superusers only', async () => {
      for (const [method, url] of [['GET', path('acme')], ['PUT', path('acme', 'ap')], ['DELETE', path('acme', 'ap')]] as const) {
        assertError(await api.call(method, url), 401);
        assertError(await api.call(method, url, { cookie: alice }), 403, undefined, /superuser/);
      }
      assert.deepEqual(await api.services.accounts.namespaceLocations.list((await api.services.accounts.accounts.getAccount('acme'))!.id), []);
    });
  });
}

describe('api: namespace storage locations with FEATURE_STORAGE_REPLICATION off', () => {
  let api: Api;
  before(async () => {
    api = await startApi('sqlite', {}, undefined, { replication: { ...REPLICATION, enabled: false } });
  });
  after(() => api?.close());

  it('lists (nothing is required) and refuses an addition, saying why', async () => {
    const admin = await api.signIn(ADMIN.name, ADMIN.password);
    const listed = await api.call('GET', path('admin'), { cookie: admin });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.json.required_locations, []);
    assert.equal(listed.json.replication_enabled, false);
    assertError(await api.call('PUT', path('admin', 'ap'), { cookie: admin }), 400, 'invalid_request', /^FEATURE_STORAGE_REPLICATION is off/);
    assert.deepEqual((await api.call('GET', path('admin'), { cookie: admin })).json.locations, []);
  });
});
