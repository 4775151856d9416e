import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALL_DIALECTS } from '../helpers/databases.js';
import { ADMIN, assertError, auditRows, startApi, type Api } from './harness.js';

// One end-to-end flow on every dialect: the API's queries go through all three SQL backends.
for (const dialect of ALL_DIALECTS) {
  describe(`api flow on ${dialect}`, () => {
    let api: Api;
    before(async () => {
      api = await startApi(dialect);
    });
    after(() => api?.close());

    it('signs up, makes an org, a team, a robot, a repository with a permission, tags it, and reads the logs', async () => {
      assert.equal((await api.call('POST', '/user/', { body: { username: 'dana', password: 'dana-password-1', email: 'd@example.com' } })).status, 201);
      const dana = await api.signIn('dana', 'dana-password-1');
      const token = await api.appToken(dana);

      assert.equal((await api.call('POST', '/organization/', { bearer: token, body: { name: 'shop' } })).status, 201);
      assert.equal((await api.call('PUT', '/organization/shop/team/devs', { bearer: token, body: { role: 'member' } })).status, 200);
      const robot = await api.call('PUT', '/organization/shop/robots/ci', { bearer: token, body: { description: 'ci' } });
      assert.equal(robot.status, 201);
      assert.equal((await api.call('PUT', '/organization/shop/team/devs/members/shop+ci', { bearer: token })).status, 200);
      assert.equal((await api.call('POST', '/organization/shop/prototypes', { bearer: token, body: { delegate: { kind: 'team', name: 'devs' }, role: 'write' } })).status, 200);

      const me = await api.call('GET', '/user/', { cookie: dana });
      assert.deepEqual(me.json.organizations, [{ name: 'shop', is_org_admin: true, can_create_repo: true }]);

      const body = { namespace: 'shop', repository: 'web/app', visibility: 'private', description: 'Storefront 🛒' };
      assert.equal((await api.call('POST', '/repository', { bearer: token, body })).status, 201);
      assert.equal((await api.call('GET', '/repository/shop/web/app', { bearer: token })).json.description, 'Storefront 🛒');
      assert.equal((await api.call('PUT', '/repository/shop/web/app', { bearer: token, body: { description: '# Shop\n' } })).status, 200);
      assert.equal((await api.call('GET', '/repository/shop/web/app', { bearer: token })).json.description, '# Shop\n');
      const perms = await api.call('GET', '/repository/shop/web/app/permissions/team/', { bearer: token });
      assert.deepEqual(perms.json.permissions, { devs: { role: 'write', name: 'devs' } });
      const admin = await api.signIn(ADMIN.name, ADMIN.password);
      assert.equal((await api.call('PUT', '/repository/shop/web/app/permissions/user/admin', { bearer: token, body: { role: 'read' } })).status, 200);

      const digest = await api.putManifest('shop/web/app');
      assert.equal((await api.call('PUT', '/repository/shop/web/app/tag/v1', { bearer: token, body: { manifest_digest: digest } })).status, 201);
      const tags = await api.call('GET', '/repository/shop/web/app/tag/', { bearer: token });
      assert.deepEqual((tags.json.tags as Array<{ name: string; manifest_digest: string }>).map((t) => [t.name, t.manifest_digest]), [['v1', digest]]);
      assertError(await api.call('GET', '/repository/shop/web/app/tag/'), 401);

      const listed = await api.call('GET', '/repository?namespace=shop', { cookie: admin });
      assert.deepEqual((listed.json.repositories as Array<{ name: string }>).map((r) => r.name), ['web/app']);

      const logs = await api.call('GET', '/organization/shop/logs', { bearer: token });
      const kinds = (logs.json.logs as Array<{ kind: string }>).map((l) => l.kind);
      for (const kind of ['org_create', 'org_create_team', 'create_robot', 'org_add_team_member', 'create_prototype_permission', 'create_repo', 'change_repo_permission', 'create_tag']) {
        assert.ok(kinds.includes(kind), `${kind} in ${kinds.join(',')}`);
      }
      assert.ok((await auditRows(api, 'user_create')).some((r) => r.metadata.username === 'dana'));

      assert.equal((await api.call('DELETE', '/repository/shop/web/app', { bearer: token })).status, 204);
      assert.equal((await api.call('DELETE', '/organization/shop', { bearer: token })).status, 204);
      assert.equal(await api.services.accounts.accounts.getAccount('shop+ci'), undefined);

      // A password change ends the user's sessions (the app token is a separate credential and stays).
      assert.equal((await api.call('GET', '/user/', { cookie: dana })).status, 200);
      assert.equal((await api.call('PUT', '/superuser/users/dana', { cookie: admin, body: { password: 'dana-password-2' } })).status, 200);
      assertError(await api.call('GET', '/user/', { cookie: dana }), 401);
      assert.equal((await api.call('GET', '/user/', { bearer: token })).status, 200);
      assert.equal((await api.call('GET', '/user/', { cookie: await api.signIn('dana', 'dana-password-2') })).status, 200);
    });
  });
}
