// The superuser panel's API: users (create, page, disable, delete), organizations (page, delete), the whole
// usage log, the service keys and the storage locations with Quay's _verify check on real local
// directories. Everyone else is refused (401 anonymous, 403 signed in), and bad input is a 400 in words.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { storageValidationOf } from '../../src/cli/runtime.js';
import { parseStorageLocation } from '../../src/storage/factory.js';
import { ADMIN, assertError, auditRows, startApi, type Api } from './harness.js';

const SUPERUSER_ENDPOINTS: Array<[string, string]> = [
  ['GET', '/superuser/users/'],
  ['POST', '/superuser/users/'],
  ['PUT', '/superuser/users/alice'],
  ['DELETE', '/superuser/users/alice'],
  ['GET', '/superuser/organizations/'],
  ['DELETE', '/superuser/organizations/acme'],
  ['GET', '/superuser/logs'],
  ['GET', '/superuser/keys'],
  ['GET', '/superuser/keys/some-kid'],
  ['GET', '/superuser/storage'],
  ['GET', '/superuser/instances'],
  ['POST', '/superuser/config/validate/registry-storage'],
];

describe('api: superuser endpoints', () => {
  let api: Api;
  let work: string;
  let good: string;
  let broken: string;
  let alice: string;
  let admin: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'quayside-superuser-api-'));
    good = join(work, 'good');
    // A path under a regular file: no directory can be made there, even as root.
    await writeFile(join(work, 'a-file'), 'not a directory');
    broken = join(work, 'a-file', 'storage');
    const locations = [
      parseStorageLocation('good', ['LocalStorage', { storage_path: good }]),
      parseStorageLocation('broken', ['LocalStorage', { storage_path: broken }]),
    ];
    const storage = storageValidationOf({ locations, edge: { extraCa: { certificates: [], files: [] } } });
    api = await startApi('sqlite', {}, undefined, { storage });
    await api.services.start();
    await api.createUser('alice', 'alice-password-1');
    alice = await api.signIn('alice', 'alice-password-1');
    admin = await api.signIn(ADMIN.name, ADMIN.password);
  });
  after(async () => {
    await api.services.stop();
    await api.close();
    await rm(work, { recursive: true, force: true });
  });

  it('refuses anonymous callers (401) and users who are not superusers (403) on every endpoint', async () => {
    for (const [method, path] of SUPERUSER_ENDPOINTS) {
      assertError(await api.call(method, path, { body: method === 'GET' || method === 'DELETE' ? undefined : {} }), 401);
      const res = await api.call(method, path, { cookie: alice, body: method === 'GET' || method === 'DELETE' ? undefined : {} });
      assertError(res, 403, undefined, /superuser/);
    }
  });

  it('creates a user with a generated password, pages the users, disables, enables and deletes one', async () => {
    const made = await api.call('POST', '/superuser/users/', { cookie: admin, body: { username: 'carol', email: 'carol@example.com' } });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const password = made.json.password as string;
    assert.ok(password.length >= 16);
    await api.signIn('carol', password);
    assertError(await api.call('POST', '/superuser/users/', { cookie: admin, body: { username: 'Not A Name!' } }), 400);
    assertError(await api.call('POST', '/superuser/users/', { cookie: admin, body: { username: 'carol' } }), 400);

    const names: string[] = [];
    let next: string | undefined;
    do {
      const query = next === undefined ? '?limit=2' : `?limit=2&next_page=${encodeURIComponent(next)}`;
      const page = await api.call('GET', `/superuser/users/${query}`, { cookie: admin });
      assert.equal(page.status, 200);
      const users = page.json.users as Array<{ username: string; enabled: boolean; super_user: boolean }>;
      assert.ok(users.length <= 2);
      names.push(...users.map((user) => user.username));
      next = page.json.next_page as string | undefined;
    } while (next !== undefined);
    assert.deepEqual(names, ['admin', 'alice', 'carol']);
    for (const bad of ['?limit=0', '?limit=abc', '?limit=501', '?limit=1&limit=2']) {
      assertError(await api.call('GET', `/superuser/users/${bad}`, { cookie: admin }), 400);
    }

    const disabled = await api.call('PUT', '/superuser/users/carol', { cookie: admin, body: { enabled: false } });
    assert.equal(disabled.json.enabled, false);
    assertError(await api.call('POST', '/signin', { body: { username: 'carol', password } }), 403);
    assert.equal((await api.call('PUT', '/superuser/users/carol', { cookie: admin, body: { enabled: true } })).json.enabled, true);
    await api.signIn('carol', password);
    assertError(await api.call('PUT', '/superuser/users/carol', { cookie: admin, body: { enabled: 'no' } }), 400);
    assertError(await api.call('PUT', '/superuser/users/admin', { cookie: admin, body: { enabled: false } }), 400, undefined, /your own/);

    assert.equal((await api.call('DELETE', '/superuser/users/carol', { cookie: admin })).status, 204);
    assertError(await api.call('DELETE', '/superuser/users/carol', { cookie: admin }), 404);
    assertError(await api.call('DELETE', '/superuser/users/admin', { cookie: admin }), 400, undefined, /superuser/);
    assert.ok((await auditRows(api, 'user_delete')).some((row) => row.metadata.username === 'carol' && row.performer?.name === 'admin'));
  });

  it('pages every organization and deletes one; a missing one, a user and one with repositories are refused', async () => {
    for (const name of ['org-a', 'org-b', 'org-c']) {
      assert.equal((await api.call('POST', '/organization/', { cookie: alice, body: { name } })).status, 201);
    }
    const first = await api.call('GET', '/superuser/organizations/?limit=2', { cookie: admin });
    assert.deepEqual((first.json.organizations as Array<{ name: string }>).map((org) => org.name), ['org-a', 'org-b']);
    assert.equal(first.json.next_page, 'org-b');
    const second = await api.call('GET', '/superuser/organizations/?limit=2&next_page=org-b', { cookie: admin });
    assert.deepEqual((second.json.organizations as Array<{ name: string }>).map((org) => org.name), ['org-c']);
    assert.equal(second.json.next_page, undefined);
    assertError(await api.call('GET', '/superuser/organizations/?limit=-1', { cookie: admin }), 400, undefined, /limit/);

    assert.equal((await api.call('DELETE', '/superuser/organizations/org-a', { cookie: admin })).status, 204);
    assert.equal((await api.call('GET', '/organization/org-a')).status, 404);
    assertError(await api.call('DELETE', '/superuser/organizations/org-a', { cookie: admin }), 404);
    assertError(await api.call('DELETE', '/superuser/organizations/alice', { cookie: admin }), 404, undefined, /organization/);
    await api.call('POST', '/repository', { cookie: alice, body: { namespace: 'org-b', repository: 'app', visibility: 'private', description: '' } });
    assertError(await api.call('DELETE', '/superuser/organizations/org-b', { cookie: admin }), 400);

    // The whole usage log has what happened in every namespace, the deletion among it.
    const logs = await api.call('GET', '/superuser/logs', { cookie: admin });
    assert.equal(logs.status, 200);
    const entries = logs.json.logs as Array<{ kind: string; namespace?: { name: string }; performer?: { name: string } }>;
    assert.ok(entries.some((entry) => entry.kind === 'org_delete' && entry.namespace?.name === 'org-a' && entry.performer?.name === 'admin'));
    assert.ok(entries.some((entry) => entry.kind === 'org_create' && entry.performer?.name === 'alice'));
    assertError(await api.call('GET', '/superuser/logs?next_page=abc', { cookie: admin }), 400);
  });

  it('lists the service keys this instance published, and one by its kid', async () => {
    const list = await api.call('GET', '/superuser/keys', { cookie: admin });
    assert.equal(list.status, 200);
    const keys = list.json.keys as Array<{ kid: string; public_key: string; expiration_date: string }>;
    assert.ok(keys.length >= 1, 'the key ring published a key at start');
    assert.match(keys[0]!.public_key, /BEGIN PUBLIC KEY/);
    const one = await api.call('GET', `/superuser/keys/${encodeURIComponent(keys[0]!.kid)}`, { cookie: admin });
    assert.equal(one.json.kid, keys[0]!.kid);
    assertError(await api.call('GET', '/superuser/keys/no-such-key', { cookie: admin }), 404, undefined, /service key/);
  });

  it("lists the storage locations and runs Quay's _verify check on each, naming the one that failed", async () => {
    const list = await api.call('GET', '/superuser/storage', { cookie: admin });
    assert.deepEqual(list.json.locations, [
      { name: 'good', driver: 'LocalStorage', preferred: true },
      { name: 'broken', driver: 'LocalStorage', preferred: false },
    ]);
    const res = await api.call('POST', '/superuser/config/validate/registry-storage', { cookie: admin, body: {} });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.json.status, false);
    assert.match(res.json.reason as string, /^broken: LocalStorage directory .* is not writable/);
    const locations = res.json.locations as Array<{ name: string; ok: boolean; failure?: string }>;
    assert.deepEqual(
      locations.map((location) => [location.name, location.ok]),
      [
        ['good', true],
        ['broken', false],
      ],
    );
    assert.equal(await readFile(join(good, '_verify'), 'utf8'), 'testing 123');
  });

  it('says so when the server was given no storage location to validate', async () => {
    const bare = await startApi('sqlite');
    try {
      const cookie = await bare.signIn(ADMIN.name, ADMIN.password);
      assert.deepEqual((await bare.call('GET', '/superuser/storage', { cookie })).json.locations, []);
      assertError(await bare.call('POST', '/superuser/config/validate/registry-storage', { cookie, body: {} }), 400, undefined, /no storage location/);
    } finally {
      await bare.close();
    }
  });
});
