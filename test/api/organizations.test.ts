import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashSecret } from '../../src/auth/secrets.js';
import { ADMIN, assertError, auditRows, startApi, type Api } from './harness.js';

describe('api: organizations, teams, robots', () => {
  let api: Api;
  let alice: string;
  let bob: string;
  let admin: string;
  before(async () => {
    api = await startApi('sqlite');
    await api.createUser('alice', 'alice-password-1');
    await api.createUser('bob', 'bob-password-1');
    alice = await api.signIn('alice', 'alice-password-1');
    bob = await api.signIn('bob', 'bob-password-1');
    admin = await api.signIn(ADMIN.name, ADMIN.password);
  });
  after(() => api.close());

  it('creates an organization owned by the caller and shows it to members and outsiders differently', async () => {
    const res = await api.call('POST', '/organization/', { cookie: alice, body: { name: 'acme', email: 'ops@acme.example' } });
    assert.equal(res.status, 201);
    const rows = await auditRows(api, 'org_create');
    assert.ok(rows.some((r) => r.namespace === 'acme' && r.performer?.name === 'alice' && r.clientAddress === '127.0.0.1'));

    const mine = await api.call('GET', '/organization/acme', { cookie: alice });
    assert.equal(mine.status, 200);
    assert.equal(mine.json.is_admin, true);
    assert.equal(mine.json.email, 'ops@acme.example');
    assert.deepEqual(Object.keys(mine.json.teams as object), ['owners']);

    const theirs = await api.call('GET', '/organization/acme', { cookie: bob });
    assert.equal(theirs.json.is_admin, false);
    assert.equal(theirs.json.is_member, false);
    assert.equal(theirs.json.email, undefined);
    assert.equal(theirs.json.teams, undefined);
    assert.equal((await api.call('GET', '/organization/acme')).status, 200, 'anonymous callers see the public view');

    const me = await api.call('GET', '/user/', { cookie: alice });
    assert.deepEqual(me.json.organizations, [{ name: 'acme', is_org_admin: true, can_create_repo: true }]);
  });

  it('refuses bad organization input and taken names', async () => {
    assertError(await api.call('POST', '/organization/', { cookie: alice, body: { name: 'acme', email: 'x@example.com' } }), 400, 'invalid_request', /already exists/);
    assertError(await api.call('POST', '/organization/', { cookie: alice, body: { name: 'alice' } }), 400, 'invalid_request', /already exists/);
    assertError(await api.call('POST', '/organization/', { cookie: alice, body: { name: 'Acme!' } }), 400, 'invalid_request', /lower-case/);
    assertError(await api.call('POST', '/organization/', { cookie: alice, body: { name: 'x'.repeat(300) } }), 400, 'invalid_request', /name/);
    assertError(await api.call('POST', '/organization/', { cookie: alice, body: { name: 42 } }), 400, 'invalid_request', /name/);
    assertError(await api.call('POST', '/organization/', { cookie: alice, raw: '{name: acme}', contentType: 'application/json' }), 400, 'invalid_request', /JSON/);
    assertError(await api.call('POST', '/organization/', { body: { name: 'anon-org' } }), 401, 'invalid_token');
    assertError(await api.call('GET', '/organization/nope'), 404, 'not_found');
    assertError(await api.call('GET', '/organization/alice'), 404, 'not_found', /organization/);
  });

  it('creates, updates and deletes teams and their members', async () => {
    const put = await api.call('PUT', '/organization/acme/team/builders', { cookie: alice, body: { role: 'creator', description: 'CI people' } });
    assert.equal(put.status, 200);
    assert.deepEqual({ name: put.json.name, role: put.json.role, description: put.json.description, new_team: put.json.new_team }, {
      name: 'builders',
      role: 'creator',
      description: 'CI people',
      new_team: true,
    });
    const again = await api.call('PUT', '/organization/acme/team/builders', { cookie: alice, body: { role: 'member' } });
    assert.equal(again.json.new_team, false);
    assert.equal(again.json.description, 'CI people', 'an omitted description is kept');
    assert.ok((await auditRows(api, 'org_create_team')).some((r) => r.metadata.team === 'builders' && r.namespace === 'acme'));
    assert.ok((await auditRows(api, 'org_set_team_role')).some((r) => r.metadata.role === 'member'));

    const add = await api.call('PUT', '/organization/acme/team/builders/members/bob', { cookie: alice });
    assert.equal(add.status, 200);
    assert.deepEqual(add.body, { name: 'bob', kind: 'user', is_robot: false, invited: false });
    assert.ok((await auditRows(api, 'org_add_team_member')).some((r) => r.metadata.member === 'bob' && r.metadata.team === 'builders'));

    const members = await api.call('GET', '/organization/acme/team/builders/members', { cookie: bob });
    assert.equal(members.status, 200, 'a team member sees the team');
    assert.deepEqual(members.json.members, [{ name: 'bob', kind: 'user', is_robot: false, invited: false }]);
    assert.equal(members.json.can_edit, false);

    const orgMembers = await api.call('GET', '/organization/acme/members', { cookie: alice });
    const list = orgMembers.json.members as Array<{ name: string; teams: Array<{ name: string }> }>;
    assert.deepEqual(list.map((m) => [m.name, m.teams.map((t) => t.name)]), [['alice', ['owners']], ['bob', ['builders']]]);

    const bobView = await api.call('GET', '/user/', { cookie: bob });
    assert.deepEqual(bobView.json.organizations, [{ name: 'acme', is_org_admin: false, can_create_repo: false }]);

    assert.equal((await api.call('DELETE', '/organization/acme/team/builders/members/bob', { cookie: alice })).status, 204);
    assert.ok((await auditRows(api, 'org_remove_team_member')).some((r) => r.metadata.member === 'bob'));
    assertError(await api.call('DELETE', '/organization/acme/team/builders/members/bob', { cookie: alice }), 404);
    assert.equal((await api.call('DELETE', '/organization/acme/team/builders', { cookie: alice })).status, 204);
    assert.ok((await auditRows(api, 'org_delete_team')).some((r) => r.metadata.team === 'builders'));
    assertError(await api.call('DELETE', '/organization/acme/team/builders', { cookie: alice }), 404, 'not_found');
  });

  it('keeps at least one admin team with a user in it', async () => {
    assertError(await api.call('PUT', '/organization/acme/team/owners', { cookie: alice, body: { role: 'member' } }), 400, undefined, /last admin team/);
    assertError(await api.call('DELETE', '/organization/acme/team/owners', { cookie: alice }), 400, undefined, /last admin team/);
    assertError(await api.call('DELETE', '/organization/acme/team/owners/members/alice', { cookie: alice }), 400, undefined, /without any user/);
  });

  it('refuses team changes from non-admins and bad team input', async () => {
    assertError(await api.call('PUT', '/organization/acme/team/sneaky', { cookie: bob, body: { role: 'admin' } }), 403, 'insufficient_scope');
    assertError(await api.call('PUT', '/organization/acme/team/sneaky', { body: { role: 'admin' } }), 401);
    assertError(await api.call('PUT', '/organization/acme/team/owners/members/bob', { cookie: bob }), 403);
    assertError(await api.call('GET', '/organization/acme/team/owners/members', { cookie: bob }), 403);
    assertError(await api.call('GET', '/organization/acme/members', { cookie: bob }), 403);
    assertError(await api.call('PUT', '/organization/acme/team/devs', { cookie: alice, body: { role: 'overlord' } }), 400, 'invalid_request', /role/);
    assertError(await api.call('PUT', '/organization/acme/team/devs', { cookie: alice, body: {} }), 400, 'invalid_request', /role/);
    assertError(await api.call('PUT', '/organization/acme/team/devs', { cookie: alice, body: { role: 'member', description: 7 } }), 400, 'invalid_request', /description/);
    assertError(await api.call('PUT', '/organization/acme/team/Bad_Team', { cookie: alice, body: { role: 'member' } }), 400, 'invalid_request', /team name/);
    assertError(await api.call('PUT', '/organization/acme/team/nope/members/bob', { cookie: alice }), 404, 'not_found', /team/);
    assertError(await api.call('PUT', '/organization/acme/team/owners/members/nobody', { cookie: alice }), 400, 'invalid_request', /unknown user/);
    assertError(await api.call('PUT', '/organization/acme/team/owners/members/acme', { cookie: alice }), 400, 'invalid_request', /organization/);
    assertError(await api.call('PUT', '/organization/nope/team/devs', { cookie: alice, body: { role: 'member' } }), 404);
  });

  it('creates robots whose token is shown once and only stored as a hash; regenerates and deletes them', async () => {
    const res = await api.call('PUT', '/organization/acme/robots/ci', { cookie: alice, body: { description: 'builds' } });
    assert.equal(res.status, 201);
    assert.equal(res.json.name, 'acme+ci');
    assert.equal(res.json.description, 'builds');
    const token = res.json.token as string;
    assert.ok(token.length >= 32);
    const robot = await api.services.accounts.accounts.getAccount('acme+ci');
    assert.ok(robot);
    assert.equal((await api.services.accounts.accounts.getSecrets(robot.id))?.tokenHash, hashSecret(token));
    assert.ok((await auditRows(api, 'create_robot')).some((r) => r.metadata.robot === 'acme+ci' && r.namespace === 'acme'));

    const view = await api.call('GET', '/organization/acme/robots/ci', { cookie: alice });
    assert.equal(view.status, 200);
    assert.equal(view.json.token, undefined, 'the token is not shown again');
    const list = await api.call('GET', '/organization/acme/robots', { cookie: alice });
    assert.deepEqual((list.json.robots as Array<{ name: string }>).map((r) => r.name), ['acme+ci']);

    assertError(await api.call('PUT', '/organization/acme/robots/ci', { cookie: alice }), 400, 'invalid_request', /already exists/);

    const regen = await api.call('POST', '/organization/acme/robots/ci/regenerate', { cookie: alice });
    assert.equal(regen.status, 200);
    const fresh = regen.json.token as string;
    assert.notEqual(fresh, token);
    assert.equal((await api.services.accounts.accounts.getSecrets(robot.id))?.tokenHash, hashSecret(fresh));
    assert.ok((await auditRows(api, 'regenerate_robot_token')).some((r) => r.metadata.robot === 'acme+ci'));

    // A robot of the org may join its teams; another namespace's robot may not.
    assert.equal((await api.call('PUT', '/organization/acme/team/owners/members/acme+ci', { cookie: alice })).status, 200);
    assert.equal((await api.call('PUT', '/user/robots/helper', { cookie: bob })).status, 201);
    assertError(await api.call('PUT', '/organization/acme/team/owners/members/bob+helper', { cookie: alice }), 400, 'invalid_request', /does not belong/);
    const bobRobots = await api.call('GET', '/user/robots', { cookie: bob });
    assert.deepEqual((bobRobots.json.robots as Array<{ name: string }>).map((r) => r.name), ['bob+helper']);

    assert.equal((await api.call('DELETE', '/organization/acme/robots/ci', { cookie: alice })).status, 204);
    assert.ok((await auditRows(api, 'delete_robot')).some((r) => r.metadata.robot === 'acme+ci'));
    assertError(await api.call('GET', '/organization/acme/robots/ci', { cookie: alice }), 404, 'not_found');
  });

  it('refuses robot operations from outsiders and bad robot names', async () => {
    assertError(await api.call('PUT', '/organization/acme/robots/evil', { cookie: bob }), 403);
    assertError(await api.call('GET', '/organization/acme/robots', { cookie: bob }), 403);
    assertError(await api.call('GET', '/organization/acme/robots'), 401);
    assertError(await api.call('PUT', '/organization/acme/robots/Bad-Name', { cookie: alice }), 400, 'invalid_request', /robot name/);
    assertError(await api.call('PUT', '/organization/acme/robots/x', { cookie: alice }), 400, 'invalid_request', /robot name/);
    assertError(await api.call('PUT', '/organization/acme/robots/okname', { cookie: alice, body: { description: 'x'.repeat(300) } }), 400, 'invalid_request', /description/);
    assertError(await api.call('PUT', '/organization/acme/robots/okname', { cookie: alice, body: 'just a string' }), 400, 'invalid_request', /JSON object/);
    assertError(await api.call('POST', '/organization/acme/robots/ghost/regenerate', { cookie: alice }), 404);
    // Bob's robot cannot be reached through Bob's name as an organization.
    assertError(await api.call('GET', '/organization/bob/robots/helper', { cookie: bob }), 404);
  });

  it("lists a robot's repository permissions (direct grants only) to the organization's admins", async () => {
    assert.equal((await api.call('PUT', '/organization/acme/robots/deploy', { cookie: alice })).status, 201);
    const empty = await api.call('GET', '/organization/acme/robots/deploy/permissions', { cookie: alice });
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.json, { permissions: [] });
    for (const repository of ['web', 'tools/cli']) {
      const made = await api.call('POST', '/repository', { cookie: alice, body: { namespace: 'acme', repository, visibility: 'private', description: '' } });
      assert.equal(made.status, 201);
    }
    assert.equal((await api.call('POST', '/repository/acme/web/changevisibility', { cookie: alice, body: { visibility: 'public' } })).status, 200);
    assert.equal((await api.call('PUT', '/repository/acme/web/permissions/user/acme+deploy', { cookie: alice, body: { role: 'write' } })).status, 200);
    assert.equal((await api.call('PUT', '/repository/acme/tools/cli/permissions/user/acme+deploy', { cookie: alice, body: { role: 'read' } })).status, 200);
    // A grant to a team the robot is in is not a permission of the robot itself.
    assert.equal((await api.call('PUT', '/organization/acme/team/deployers', { cookie: alice, body: { role: 'member' } })).status, 200);
    assert.equal((await api.call('PUT', '/organization/acme/team/deployers/members/acme+deploy', { cookie: alice })).status, 200);
    const listed = await api.call('GET', '/organization/acme/robots/deploy/permissions', { cookie: alice });
    assert.deepEqual(listed.json, {
      permissions: [
        { repository: { name: 'tools/cli', is_public: false }, role: 'read' },
        { repository: { name: 'web', is_public: true }, role: 'write' },
      ],
    });
    assertError(await api.call('GET', '/organization/acme/robots/deploy/permissions', { cookie: bob }), 403);
    assertError(await api.call('GET', '/organization/acme/robots/deploy/permissions'), 401);
    assertError(await api.call('GET', '/organization/acme/robots/ghost/permissions', { cookie: alice }), 404, 'not_found');
    assertError(await api.call('GET', '/organization/acme/robots/Bad-Name/permissions', { cookie: alice }), 400, 'invalid_request', /robot name/);
    // Clean up, so that the organization can be deleted below.
    for (const repository of ['web', 'tools/cli']) assert.equal((await api.call('DELETE', `/repository/acme/${repository}`, { cookie: alice })).status, 204);
  });

  it('lets a superuser administer any organization, and deletes an empty one', async () => {
    assert.equal((await api.call('PUT', '/organization/acme/team/auditors', { cookie: admin, body: { role: 'member' } })).status, 200);
    assertError(await api.call('DELETE', '/organization/acme', { cookie: bob }), 403);
    assert.equal((await api.call('DELETE', '/organization/acme', { cookie: alice })).status, 204);
    assert.ok((await auditRows(api, 'org_delete')).some((r) => r.namespace === 'acme' && r.performer?.name === 'alice'));
    assertError(await api.call('GET', '/organization/acme', { cookie: alice }), 404);
  });
});
