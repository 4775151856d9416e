import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, assertError, auditRows, startApi, type Api } from './harness.js';

describe('api: repositories, permissions, default permissions', () => {
  let api: Api;
  let alice: string;
  let bob: string;
  let carol: string;
  before(async () => {
    api = await startApi('sqlite');
    await api.createUser('alice', 'alice-password-1');
    await api.createUser('bob', 'bob-password-1');
    await api.createUser('carol', 'carol-password-1');
    alice = await api.signIn('alice', 'alice-password-1');
    bob = await api.signIn('bob', 'bob-password-1');
    carol = await api.signIn('carol', 'carol-password-1');
    assert.equal((await api.call('POST', '/organization/', { cookie: alice, body: { name: 'acme' } })).status, 201);
    assert.equal((await api.call('PUT', '/organization/acme/team/devs', { cookie: alice, body: { role: 'member' } })).status, 200);
    assert.equal((await api.call('PUT', '/organization/acme/team/devs/members/carol', { cookie: alice })).status, 200);
    assert.equal((await api.call('PUT', '/organization/acme/robots/ci', { cookie: alice })).status, 201);
  });
  after(() => api.close());

  it('applies default permissions (prototypes) to repositories created afterwards', async () => {
    const add = await api.call('POST', '/organization/acme/prototypes', { cookie: alice, body: { delegate: { kind: 'team', name: 'devs' }, role: 'write' } });
    assert.equal(add.status, 200);
    assert.deepEqual(add.json.delegate, { name: 'devs', kind: 'team' });
    assert.equal(add.json.role, 'write');
    const robot = await api.call('POST', '/organization/acme/prototypes', { cookie: alice, body: { delegate: { kind: 'user', name: 'acme+ci' }, role: 'read' } });
    assert.equal(robot.status, 200);
    assert.deepEqual(robot.json.delegate, { name: 'acme+ci', kind: 'user', is_robot: true, is_org_member: false });
    const list = await api.call('GET', '/organization/acme/prototypes', { cookie: alice });
    assert.equal((list.json.prototypes as unknown[]).length, 2);
    assert.ok((await auditRows(api, 'create_prototype_permission')).some((r) => r.namespace === 'acme' && r.metadata.role === 'write'));

    const created = await api.call('POST', '/repository', { cookie: alice, body: { namespace: 'acme', repository: 'tools/app', visibility: 'private', description: 'app' } });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body, { namespace: 'acme', name: 'tools/app', kind: 'image' });
    assert.ok((await auditRows(api, 'create_repo')).some((r) => r.repository === 'acme/tools/app' && r.performer?.name === 'alice'));

    const teams = await api.call('GET', '/repository/acme/tools/app/permissions/team/', { cookie: alice });
    assert.equal(teams.status, 200);
    assert.deepEqual(teams.json.permissions, { devs: { role: 'write', name: 'devs' } });
    const users = await api.call('GET', '/repository/acme/tools/app/permissions/user/', { cookie: alice });
    assert.deepEqual(users.json.permissions, { 'acme+ci': { role: 'read', name: 'acme+ci', is_robot: true, is_org_member: false } });

    // Carol (in devs) may write, so she reads the repository, but cannot administer it.
    const asCarol = await api.call('GET', '/repository/acme/tools/app', { cookie: carol });
    assert.equal(asCarol.status, 200);
    assert.equal(asCarol.json.can_write, true);
    assert.equal(asCarol.json.can_admin, false);
    assert.equal(asCarol.json.is_public, false);
    assert.equal(asCarol.json.is_organization, true);
    assertError(await api.call('GET', '/repository/acme/tools/app/permissions/user/', { cookie: carol }), 403, 'insufficient_scope');

    const id = (list.json.prototypes as Array<{ id: string; role: string }>).find((p) => p.role === 'read')!.id;
    assert.equal((await api.call('DELETE', `/organization/acme/prototypes/${id}`, { cookie: alice })).status, 204);
    assert.ok((await auditRows(api, 'delete_prototype_permission')).some((r) => r.metadata.id === id));
    assertError(await api.call('DELETE', `/organization/acme/prototypes/${id}`, { cookie: alice }), 404);
  });

  it('refuses bad prototype input and non-admins', async () => {
    const post = (body: unknown, cookie = alice) => api.call('POST', '/organization/acme/prototypes', { cookie, body });
    assertError(await post({ delegate: { kind: 'team', name: 'devs' }, role: 'owner' }), 400, 'invalid_request', /role/);
    assertError(await post({ delegate: { kind: 'group', name: 'devs' }, role: 'read' }), 400, 'invalid_request', /delegate\.kind/);
    assertError(await post({ delegate: { kind: 'team', name: 'nope' }, role: 'read' }), 400, 'invalid_request', /unknown team/);
    assertError(await post({ delegate: { kind: 'user', name: 'nobody' }, role: 'read' }), 400, 'invalid_request', /unknown user/);
    assertError(await post({ delegate: { kind: 'user', name: 'alice' }, role: 'read', activating_user: { name: 'bob' } }), 400, 'invalid_request', /activating user/);
    assertError(await post({ delegate: 'devs', role: 'read' }), 400, 'invalid_request', /delegate/);
    assertError(await post({ delegate: { kind: 'team', name: 'devs' }, role: 'read' }, bob), 403);
    assertError(await api.call('GET', '/organization/acme/prototypes'), 401);
  });

  it('grants, changes and revokes user and team permissions, with audit rows', async () => {
    const path = '/repository/acme/tools/app/permissions';
    const grant = await api.call('PUT', `${path}/user/bob`, { cookie: alice, body: { role: 'read' } });
    assert.equal(grant.status, 200);
    assert.deepEqual(grant.body, { role: 'read', name: 'bob', is_robot: false, is_org_member: false });
    assert.equal((await api.call('GET', '/repository/acme/tools/app', { cookie: bob })).json.can_write, false);
    assertError(await api.call('DELETE', '/repository/acme/tools/app', { cookie: bob }), 403);

    const admin = await api.call('PUT', `${path}/user/bob`, { cookie: alice, body: { role: 'admin' } });
    assert.equal(admin.json.role, 'admin');
    const single = await api.call('GET', `${path}/user/bob`, { cookie: bob });
    assert.equal(single.status, 200, 'bob now administers the repository');
    assert.equal(single.json.role, 'admin');
    const rows = await auditRows(api, 'change_repo_permission');
    assert.ok(rows.some((r) => r.metadata.username === 'bob' && r.metadata.role === 'admin' && r.repository === 'acme/tools/app'));

    assert.equal((await api.call('PUT', `${path}/team/devs`, { cookie: alice, body: { role: 'read' } })).json.role, 'read');
    assert.equal((await api.call('GET', `${path}/team/devs`, { cookie: alice })).json.role, 'read');
    assert.equal((await api.call('DELETE', `${path}/team/devs`, { cookie: alice })).status, 204);
    assertError(await api.call('GET', `${path}/team/devs`, { cookie: alice }), 404);
    assert.equal((await api.call('DELETE', `${path}/user/bob`, { cookie: alice })).status, 204);
    assert.ok((await auditRows(api, 'delete_repo_permission')).some((r) => r.metadata.username === 'bob'));
    assert.ok((await auditRows(api, 'delete_repo_permission')).some((r) => r.metadata.team === 'devs'));
    assertError(await api.call('GET', '/repository/acme/tools/app', { cookie: bob }), 403);
  });

  it('refuses bad permission input', async () => {
    const path = '/repository/acme/tools/app/permissions';
    assertError(await api.call('PUT', `${path}/user/bob`, { cookie: alice, body: { role: 'owner' } }), 400, 'invalid_request', /role/);
    assertError(await api.call('PUT', `${path}/user/bob`, { cookie: alice, body: { role: ['read'] } }), 400, 'invalid_request', /role/);
    assertError(await api.call('PUT', `${path}/user/bob`, { cookie: alice }), 400, 'invalid_request', /body/);
    assertError(await api.call('PUT', `${path}/user/nobody`, { cookie: alice, body: { role: 'read' } }), 400, 'invalid_request', /unknown user/);
    assertError(await api.call('PUT', `${path}/user/acme`, { cookie: alice, body: { role: 'read' } }), 400, 'invalid_request', /organization/);
    assertError(await api.call('PUT', `${path}/team/nope`, { cookie: alice, body: { role: 'read' } }), 400, 'invalid_request', /unknown team/);
    assertError(await api.call('DELETE', `${path}/user/carol`, { cookie: alice }), 404);
    assertError(await api.call('PUT', `${path}/user/bob`, { cookie: carol, body: { role: 'admin' } }), 403);
    assertError(await api.call('PUT', `${path}/user/bob`, { body: { role: 'admin' } }), 401);
  });

  it('creates repositories only where the caller may, and refuses bad names and duplicates', async () => {
    const create = (body: unknown, cookie?: string) => api.call('POST', '/repository', { cookie, body });
    assertError(await create({ namespace: 'acme', repository: 'x', visibility: 'public' }, bob), 403, 'insufficient_scope');
    assertError(await create({ namespace: 'acme', repository: 'x', visibility: 'public' }), 401);
    assertError(await create({ namespace: 'acme', repository: 'tools/app', visibility: 'private' }, alice), 400, 'invalid_request', /already exists/);
    assertError(await create({ namespace: 'acme', repository: 'Bad', visibility: 'private' }, alice), 400, 'invalid_request', /upper-case/);
    assertError(await create({ namespace: 'acme', repository: 'a//b', visibility: 'private' }, alice), 400, 'invalid_request');
    assertError(await create({ namespace: 'acme', repository: 'ok', visibility: 'secret' }, alice), 400, 'invalid_request', /visibility/);
    assertError(await create({ namespace: 'acme', repository: 'ok', visibility: 'public', repo_kind: 'application' }, alice), 400, 'invalid_request', /repo_kind/);
    assertError(await create({ namespace: 'ACME', repository: 'ok', visibility: 'public' }, alice), 400, 'invalid_request', /lower-case/);
    assertError(await create({ namespace: 'acme', repository: 'x'.repeat(300), visibility: 'public' }, alice), 400, 'invalid_request');

    const own = await create({ namespace: 'bob', repository: 'site', visibility: 'public' }, bob);
    assert.equal(own.status, 201);
  });

  it('lists visible repositories with paging, and public ones for anonymous callers', async () => {
    const anon = await api.call('GET', '/repository?public=true');
    assert.equal(anon.status, 200);
    assert.deepEqual(anon.json.repositories, [{ namespace: 'bob', name: 'site', description: null, is_public: true, kind: 'image', state: 'NORMAL' }]);

    const mine = await api.call('GET', '/repository?namespace=acme', { cookie: alice });
    assert.deepEqual((mine.json.repositories as Array<{ name: string }>).map((r) => r.name), ['tools/app']);
    const bobs = await api.call('GET', '/repository', { cookie: bob });
    assert.deepEqual((bobs.json.repositories as Array<{ name: string }>).map((r) => `${(r as { namespace?: string }).namespace}/${r.name}`), ['bob/site']);

    for (let i = 0; i < 101; i += 1) await api.services.metadata.repositories.createRepository(`bob/r${String(i).padStart(3, '0')}`, 'private');
    const first = await api.call('GET', '/repository?namespace=bob', { cookie: bob });
    assert.equal((first.json.repositories as unknown[]).length, 100);
    assert.equal(typeof first.json.next_page, 'string');
    const second = await api.call('GET', `/repository?namespace=bob&next_page=${encodeURIComponent(first.json.next_page as string)}`, { cookie: bob });
    assert.equal((second.json.repositories as unknown[]).length, 2);
    assert.equal(second.json.next_page, undefined);
    const star = await api.call('GET', '/repository?starred=true', { cookie: bob });
    assert.deepEqual(star.json.repositories, []);

    assertError(await api.call('GET', '/repository?public=maybe'), 400, 'invalid_request', /public/);
    assertError(await api.call('GET', '/repository?namespace=a&namespace=b'), 400, 'invalid_request', /namespace/);
    assertError(await api.call('GET', '/repository?namespace=Bad%20Name'), 400, 'invalid_request');
  });

  it('hides private repositories: 401 anonymous, 403 others, 404 only to namespace admins', async () => {
    assertError(await api.call('GET', '/repository/acme/tools/app'), 401, 'invalid_token');
    assertError(await api.call('GET', '/repository/acme/tools/app', { cookie: bob }), 403, 'insufficient_scope');
    assertError(await api.call('GET', '/repository/acme/missing', { cookie: bob }), 403, 'insufficient_scope');
    assertError(await api.call('GET', '/repository/acme/missing', { cookie: alice }), 404, 'not_found');
    assertError(await api.call('GET', '/repository/single'), 400, 'invalid_request', /namespace/);
    assertError(await api.call('GET', '/repository/acme/Bad'), 400, 'invalid_request', /upper-case/);
    assertError(await api.call('POST', '/repository/acme/tools/app', { cookie: alice, body: {} }), 405, 'method_not_allowed');
    const anonPublic = await api.call('GET', '/repository/bob/site');
    assert.equal(anonPublic.status, 200);
    assert.equal(anonPublic.json.can_write, false);
  });

  it('changes visibility and deletes repositories as an admin only', async () => {
    assertError(await api.call('POST', '/repository/bob/site/changevisibility', { cookie: alice, body: { visibility: 'private' } }), 403);
    assertError(await api.call('POST', '/repository/bob/site/changevisibility', { cookie: bob, body: { visibility: 'hidden' } }), 400, 'invalid_request', /visibility/);
    const change = await api.call('POST', '/repository/bob/site/changevisibility', { cookie: bob, body: { visibility: 'private' } });
    assert.equal(change.status, 200);
    assert.equal((await api.services.metadata.repositories.getRepository('bob/site'))?.visibility, 'private');
    assert.ok((await auditRows(api, 'change_repo_visibility')).some((r) => r.repository === 'bob/site' && r.metadata.visibility === 'private'));
    assertError(await api.call('GET', '/repository/bob/site'), 401);

    const superuser = await api.signIn(ADMIN.name, ADMIN.password);
    assert.equal((await api.call('GET', '/repository/bob/site', { cookie: superuser })).json.can_admin, true);
    assert.equal((await api.call('DELETE', '/repository/bob/site', { cookie: bob })).status, 204);
    assert.equal(await api.services.metadata.repositories.getRepository('bob/site'), undefined);
    assert.ok((await auditRows(api, 'delete_repo')).some((r) => r.repository === 'bob/site' && r.performer?.name === 'bob'));
  });

  it('keeps the description given at creation and lets an admin change it with PUT, up to 64 KiB', async () => {
    const path = '/repository/acme/tools/app';
    assert.equal((await api.call('GET', path, { cookie: alice })).json.description, 'app', 'stored by POST /repository');
    assert.equal((await api.call('PUT', `${path}/permissions/user/carol`, { cookie: alice, body: { role: 'write' } })).status, 200);

    assertError(await api.call('PUT', path, { body: { description: 'anonymous' } }), 401);
    assertError(await api.call('PUT', path, { cookie: bob, body: { description: 'outsider' } }), 403, 'insufficient_scope');
    assertError(await api.call('PUT', path, { cookie: carol, body: { description: 'writer' } }), 403, 'insufficient_scope', /admin/);
    assertError(await api.call('PUT', '/repository/acme/missing', { cookie: alice, body: { description: 'x' } }), 404, 'not_found');

    const markdown = '# App\n\nBuilds *everything* — ünïcode 🚢';
    const put = await api.call('PUT', path, { cookie: alice, body: { description: markdown } });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body, { success: true });
    assert.equal((await api.call('GET', path, { cookie: carol })).json.description, markdown);
    const listed = await api.call('GET', '/repository?namespace=acme', { cookie: alice });
    assert.deepEqual((listed.json.repositories as Array<{ name: string; description: unknown }>).map((r) => [r.name, r.description]), [['tools/app', markdown]]);
    const rows = await auditRows(api, 'set_repo_description');
    assert.equal(rows[0]?.repository, 'acme/tools/app');
    assert.equal(rows[0]?.namespace, 'acme');
    assert.equal(rows[0]?.performer?.name, 'alice');
    assert.deepEqual(rows[0]?.metadata, { repo: 'tools/app', namespace: 'acme', description: markdown });

    const limit = 64 * 1024;
    assertError(await api.call('PUT', path, { cookie: alice, body: { description: 'x'.repeat(limit + 1) } }), 400, 'invalid_request', /^description: must be at most 65536 characters/);
    assertError(await api.call('PUT', path, { cookie: alice, body: {} }), 400, 'invalid_request', /description/);
    assertError(await api.call('PUT', path, { cookie: alice, body: { description: 42 } }), 400, 'invalid_request', /description/);
    assertError(await api.call('PUT', path, { cookie: alice }), 400, 'invalid_request', /body/);
    assert.equal((await api.services.metadata.repositories.getRepository('acme/tools/app'))?.description, markdown, 'refused changes change nothing');

    const longest = 'y'.repeat(limit);
    assert.equal((await api.call('PUT', path, { cookie: alice, body: { description: longest } })).status, 200);
    assert.equal((await api.call('GET', path, { cookie: alice })).json.description, longest);
    assert.equal((await api.call('PUT', path, { cookie: alice, body: { description: null } })).status, 200);
    assert.equal((await api.call('GET', path, { cookie: alice })).json.description, null, 'null clears it');

    const tooLong = { namespace: 'acme', repository: 'verbose', visibility: 'private', description: 'z'.repeat(limit + 1) };
    assertError(await api.call('POST', '/repository', { cookie: alice, body: tooLong }), 400, 'invalid_request', /^description: must be at most/);
    assert.equal(await api.services.metadata.repositories.getRepository('acme/verbose'), undefined, 'nothing created');
    assert.equal((await api.call('DELETE', `${path}/permissions/user/carol`, { cookie: alice })).status, 204);
  });

  it('refuses to delete an organization that still has repositories', async () => {
    assertError(await api.call('DELETE', '/organization/acme', { cookie: alice }), 400, 'invalid_request', /repositor/);
    assert.ok(await api.services.accounts.accounts.getAccount('acme'));
  });
});
