import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashSecret } from '../../src/auth/secrets.js';
import { ADMIN, assertError, auditRows, startApi, type Api } from './harness.js';

describe('api: sign-in, sessions, bearer tokens, users', () => {
  let api: Api;
  before(async () => {
    api = await startApi('sqlite');
    await api.createUser('alice', 'alice-password-1');
    await api.createUser('bob', 'bob-password-1');
  });
  after(() => api.close());

  it('signs in with a password and sets an HttpOnly, SameSite=Strict session cookie stored as a hash', async () => {
    const res = await api.call('POST', '/signin', { body: { username: 'alice', password: 'alice-password-1' } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { success: true });
    const cookie = res.headers['set-cookie'] as string;
    assert.match(cookie, /^quayside_session=[A-Za-z0-9_-]{40,}; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/);
    const id = cookie.split(';')[0]!.split('=')[1]!;
    const stored = await api.services.accounts.sessions.get(hashSecret(id));
    assert.ok(stored, 'the session is stored under the hash of its id');
    assert.equal(await api.services.accounts.sessions.get(id), undefined, 'the id itself is not a key');

    const me = await api.call('GET', '/user/', { cookie: cookie.split(';')[0] });
    assert.equal(me.status, 200);
    assert.equal(me.json.username, 'alice');
    assert.equal(me.json.anonymous, false);
    assert.equal(me.json.super_user, false);
    assert.deepEqual(me.json.organizations, []);
  });

  it('marks the cookie Secure when SESSION_COOKIE_SECURE is on', async () => {
    const secure = await startApi('sqlite', { sessionCookieSecure: true, sessionLifetimeS: 60 });
    try {
      const res = await secure.call('POST', '/signin', { body: { username: ADMIN.name, password: ADMIN.password } });
      assert.equal(res.status, 200);
      assert.match(res.headers['set-cookie'] as string, /Max-Age=60; HttpOnly; SameSite=Strict; Secure$/);
    } finally {
      await secure.close();
    }
  });

  it('refuses wrong passwords with 403 and throttles repeated failures with 429 and Retry-After', async () => {
    const address = '198.51.100.7';
    const wrong = await api.call('POST', '/signin', { body: { username: 'target', password: 'nope-nope-nope' }, address });
    assertError(wrong, 403, 'insufficient_scope', /invalid username or password/);
    assert.equal(wrong.json.invalidCredentials, true);
    let throttled;
    for (let i = 0; i < 10; i += 1) {
      throttled = await api.call('POST', '/signin', { body: { username: 'target', password: 'nope-nope-nope' }, address });
      if (throttled.status === 429) break;
    }
    assert.ok(throttled);
    assertError(throttled, 429, 'too_many_requests', /too many failed login attempts/);
    assert.match(String(throttled.headers['retry-after']), /^\d+$/);
  });

  it('refuses a sign-in body that is not JSON, not an object, or missing fields', async () => {
    assertError(await api.call('POST', '/signin', { raw: '{"username": "alice",', contentType: 'application/json' }), 400, 'invalid_request', /not valid JSON/);
    assertError(await api.call('POST', '/signin', { raw: 'username=alice&password=x', contentType: 'application/x-www-form-urlencoded' }), 415);
    assertError(await api.call('POST', '/signin', { raw: 'alice', contentType: 'text/plain' }), 415);
    assertError(await api.call('POST', '/signin', { body: ['alice'] }), 400, 'invalid_request', /JSON object/);
    assertError(await api.call('POST', '/signin', { body: { username: 'alice', password: 12 } }), 400, 'invalid_request', /password/);
    assertError(await api.call('POST', '/signin', { body: { username: 'alice' } }), 400, 'invalid_request', /password/);
  });

  it('treats an unknown session cookie as anonymous and signs out by deleting the session', async () => {
    assertError(await api.call('GET', '/user/', { cookie: 'quayside_session=not-a-session' }), 401, 'invalid_token');
    const cookie = await api.signIn('bob', 'bob-password-1');
    assert.equal((await api.call('GET', '/user/', { cookie })).status, 200);
    const out = await api.call('POST', '/signout', { cookie });
    assert.equal(out.status, 200);
    assert.match(out.headers['set-cookie'] as string, /^quayside_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/);
    assertError(await api.call('GET', '/user/', { cookie }), 401);
    assert.ok((await auditRows(api, 'logout_success')).some((row) => row.performer?.name === 'bob'));
  });

  it('refuses mutating session requests without Content-Type application/json (cross-site guard)', async () => {
    const cookie = await api.signIn('alice', 'alice-password-1');
    const forged = await api.call('POST', '/organization/', { cookie, raw: '{"name":"forged","email":"f@example.com"}', contentType: 'text/plain' });
    assertError(forged, 403, 'forbidden', /Content-Type: application\/json/);
    assert.equal(await api.services.accounts.accounts.getAccount('forged'), undefined);
    // The same request as JSON goes through; a bearer token needs no such header.
    const real = await api.call('POST', '/organization/', { cookie, body: { name: 'alicecorp', email: 'a@example.com' } });
    assert.equal(real.status, 201);
    const token = await api.appToken(cookie);
    const viaToken = await api.call('DELETE', '/organization/alicecorp', { bearer: token });
    assert.equal(viaToken.status, 204);
  });

  it('accepts an app-specific token as a bearer token and refuses malformed or unknown ones', async () => {
    const cookie = await api.signIn('alice', 'alice-password-1');
    const created = await api.call('POST', '/user/apptoken', { cookie, body: { title: 'ci' } });
    assert.equal(created.status, 200);
    const token = created.json.token as Record<string, unknown>;
    assert.equal(token.title, 'ci');
    assert.equal(typeof token.uuid, 'string');
    assert.equal(typeof token.token_code, 'string');
    assert.equal(token.expiration, null);
    assert.match(String(token.created), /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} -0000$/);

    const me = await api.call('GET', '/user/', { bearer: token.token_code as string });
    assert.equal(me.status, 200);
    assert.equal(me.json.username, 'alice');

    const list = await api.call('GET', '/user/apptoken', { bearer: token.token_code as string });
    assert.equal(list.status, 200);
    const tokens = list.json.tokens as Array<Record<string, unknown>>;
    assert.ok(tokens.some((t) => t.uuid === token.uuid));
    assert.ok(tokens.every((t) => !('token_code' in t)), 'token codes are shown on creation only');

    const address = '198.51.100.8';
    assertError(await api.call('GET', '/user/', { authorization: 'Bearer', address }), 401, 'invalid_token', /malformed/);
    assertError(await api.call('GET', '/user/', { authorization: 'Bearer a b', address }), 401, 'invalid_token', /malformed/);
    assertError(await api.call('GET', '/user/', { authorization: 'Basic YWxpY2U6eA==', address }), 401, 'invalid_token', /unsupported/);
    assertError(await api.call('GET', '/user/', { bearer: 'x'.repeat(600), address }), 401, 'invalid_token');
    assertError(await api.call('GET', '/user/', { bearer: 'no-such-token', address }), 401, 'invalid_token', /invalid/);

    // An app token cannot mint its successor; a password session can revoke it.
    assertError(await api.call('POST', '/user/apptoken', { bearer: token.token_code as string, body: { title: 'x' } }), 403);
    const revoke = await api.call('DELETE', `/user/apptoken/${token.uuid as string}`, { cookie });
    assert.equal(revoke.status, 204);
    assertError(await api.call('DELETE', `/user/apptoken/${token.uuid as string}`, { cookie }), 404);
    assertError(await api.call('GET', '/user/', { bearer: token.token_code as string, address: '198.51.100.9' }), 401);
    assert.equal((await auditRows(api, 'create_app_specific_token')).length >= 1, true);
    const revoked = await auditRows(api, 'revoke_app_specific_token');
    assert.equal(revoked[0]?.metadata.app_specific_token, token.uuid);
    assert.equal(revoked[0]?.performer?.name, 'alice');
  });

  it('validates app token titles', async () => {
    const cookie = await api.signIn('alice', 'alice-password-1');
    assertError(await api.call('POST', '/user/apptoken', { cookie, body: { title: '' } }), 400, 'invalid_request', /title/);
    assertError(await api.call('POST', '/user/apptoken', { cookie, body: { title: 'x'.repeat(300) } }), 400, 'invalid_request', /title/);
    assertError(await api.call('POST', '/user/apptoken', { cookie, body: { title: 5 } }), 400, 'invalid_request', /title/);
  });

  it('refuses robots: they cannot sign in to the API', async () => {
    const cookie = await api.signIn('alice', 'alice-password-1');
    const robot = await api.call('PUT', '/user/robots/deployer', { cookie, body: { description: 'deploys' } });
    assert.equal(robot.status, 201);
    const res = await api.call('POST', '/signin', { body: { username: 'alice+deployer', password: robot.json.token } });
    assertError(res, 403, undefined, /robot/);
    assert.equal(res.headers['set-cookie'], undefined);
  });

  it('creates users through POST /user/ when user creation is on, with validated input', async () => {
    const res = await api.call('POST', '/user/', { body: { username: 'carol', password: 'carol-password-1', email: 'carol@example.com' } });
    assert.equal(res.status, 201);
    assert.equal(res.json.username, 'carol');
    await api.signIn('carol', 'carol-password-1');
    const rows = await auditRows(api, 'user_create');
    assert.ok(rows.some((row) => row.metadata.username === 'carol' && row.performer === null && row.clientAddress === '127.0.0.1'));

    assertError(await api.call('POST', '/user/', { body: { username: 'carol', password: 'another-password', email: 'c@example.com' } }), 400, 'invalid_request', /already exists/);
    assertError(await api.call('POST', '/user/', { body: { username: 'Bad Name', password: 'long-enough-1' } }), 400, 'invalid_request', /lower-case/);
    assertError(await api.call('POST', '/user/', { body: { username: 'dave+x', password: 'long-enough-1' } }), 400, 'invalid_request', /\+/);
    assertError(await api.call('POST', '/user/', { body: { username: 'dave', password: 'short' } }), 400, 'invalid_request', /at least 8/);
    assertError(await api.call('POST', '/user/', { body: { username: 'dave', password: 'long-enough-1', email: 'not-an-email' } }), 400, 'invalid_request', /email/);
    assertError(await api.call('POST', '/user/', { body: { username: ['dave'], password: 'long-enough-1' } }), 400, 'invalid_request', /username/);
  });

  it('lets only a superuser create users when FEATURE_USER_CREATION is off', async () => {
    const closed = await startApi('sqlite', { userCreation: false });
    try {
      assertError(await closed.call('POST', '/user/', { body: { username: 'eve', password: 'eve-password-1' } }), 403, undefined, /disabled/);
      const cookie = await closed.signIn(ADMIN.name, ADMIN.password);
      assert.equal((await closed.call('POST', '/user/', { cookie, body: { username: 'eve', password: 'eve-password-1' } })).status, 201);
    } finally {
      await closed.close();
    }
  });

  it('manages users as a superuser and refuses everyone else', async () => {
    const admin = await api.signIn(ADMIN.name, ADMIN.password);
    const alice = await api.signIn('alice', 'alice-password-1');
    assertError(await api.call('GET', '/superuser/users/', { cookie: alice }), 403, 'insufficient_scope', /superuser/);
    assertError(await api.call('GET', '/superuser/users/'), 401);

    const created = await api.call('POST', '/superuser/users/', { cookie: admin, body: { username: 'frank', email: 'frank@example.com' } });
    assert.equal(created.status, 200);
    assert.equal(created.json.username, 'frank');
    const password = created.json.password as string;
    assert.ok(password.length >= 16);
    await api.signIn('frank', password);

    const list = await api.call('GET', '/superuser/users/', { cookie: admin });
    const users = list.json.users as Array<Record<string, unknown>>;
    assert.ok(users.some((u) => u.username === 'admin' && u.super_user === true));
    assert.ok(users.some((u) => u.username === 'frank' && u.enabled === true && u.super_user === false));
    assert.ok(users.every((u) => !('password' in u)));

    const disabled = await api.call('PUT', '/superuser/users/frank', { cookie: admin, body: { enabled: false, email: 'f2@example.com', password: 'new-password-22' } });
    assert.equal(disabled.status, 200);
    assert.equal(disabled.json.enabled, false);
    assert.equal(disabled.json.email, 'f2@example.com');
    assertError(await api.call('POST', '/signin', { body: { username: 'frank', password: 'new-password-22' } }), 403, undefined, /disabled/);
    for (const kind of ['user_disable', 'user_change_email', 'user_change_password']) {
      assert.ok((await auditRows(api, kind)).some((row) => row.metadata.username === 'frank' && row.performer?.name === 'admin'), kind);
    }
    assertError(await api.call('PUT', '/superuser/users/frank', { cookie: admin, body: { enabled: 'no' } }), 400, 'invalid_request', /enabled/);
    assertError(await api.call('PUT', '/superuser/users/frank', { cookie: admin, body: { password: 'short' } }), 400, 'invalid_request', /at least 8/);
    assertError(await api.call('PUT', '/superuser/users/nobody', { cookie: admin, body: {} }), 404, 'not_found');
    assertError(await api.call('DELETE', '/superuser/users/admin', { cookie: admin }), 400, undefined, /superuser/);

    assert.equal((await api.call('DELETE', '/superuser/users/frank', { cookie: admin })).status, 204);
    assert.equal(await api.services.accounts.accounts.getAccount('frank'), undefined);
    assert.ok((await auditRows(api, 'user_delete')).some((row) => row.metadata.username === 'frank'));
    assertError(await api.call('DELETE', '/superuser/users/frank', { cookie: admin }), 404);
  });

  it('drops expired sessions and sessions of disabled users', async () => {
    const alice = await api.services.accounts.accounts.getAccount('alice');
    assert.ok(alice);
    await api.services.accounts.sessions.create(hashSecret('expired-session-id'), alice.id, new Date(Date.now() - 1000));
    assertError(await api.call('GET', '/user/', { cookie: 'quayside_session=expired-session-id' }), 401);
    assert.equal(await api.services.accounts.sessions.get(hashSecret('expired-session-id')), undefined, 'the expired row is removed');

    await api.createUser('gina', 'gina-password-1');
    const gina = await api.signIn('gina', 'gina-password-1');
    const admin = await api.signIn(ADMIN.name, ADMIN.password);
    assert.equal((await api.call('PUT', '/superuser/users/gina', { cookie: admin, body: { enabled: false } })).status, 200);
    assertError(await api.call('GET', '/user/', { cookie: gina }), 401);
  });

  it("ends a user's sessions when a superuser changes its password, and no one else's", async () => {
    await api.createUser('hank', 'hank-password-1');
    const hank = await api.signIn('hank', 'hank-password-1');
    const hankElsewhere = await api.signIn('hank', 'hank-password-1');
    const bob = await api.signIn('bob', 'bob-password-1');
    const admin = await api.signIn(ADMIN.name, ADMIN.password);
    assert.equal((await api.call('GET', '/user/', { cookie: hank })).status, 200, 'the session works before the change');

    const changed = await api.call('PUT', '/superuser/users/hank', { cookie: admin, body: { password: 'hank-password-2' } });
    assert.equal(changed.status, 200);
    assertError(await api.call('GET', '/user/', { cookie: hank }), 401);
    assertError(await api.call('GET', '/user/', { cookie: hankElsewhere }), 401);
    assert.equal(await api.services.accounts.sessions.get(hashSecret(hank.split('=')[1]!)), undefined, 'the row is gone');
    assert.equal((await api.call('GET', '/user/', { cookie: bob })).status, 200, "another user's session stays");
    assert.equal((await api.call('GET', '/user/', { cookie: admin })).status, 200, "the superuser's own session stays");

    // An e-mail change alone leaves sessions alone; a new sign-in with the new password works.
    const fresh = await api.signIn('hank', 'hank-password-2');
    assert.equal((await api.call('PUT', '/superuser/users/hank', { cookie: admin, body: { email: 'hank2@example.com' } })).status, 200);
    assert.equal((await api.call('GET', '/user/', { cookie: fresh })).status, 200);
  });

  it('ends the sessions of a disabled user for good: enabling it again does not revive them', async () => {
    await api.createUser('ida', 'ida-password-1');
    const ida = await api.signIn('ida', 'ida-password-1');
    const admin = await api.signIn(ADMIN.name, ADMIN.password);
    assert.equal((await api.call('PUT', '/superuser/users/ida', { cookie: admin, body: { enabled: false } })).status, 200);
    assert.equal(await api.services.accounts.sessions.get(hashSecret(ida.split('=')[1]!)), undefined);
    assert.equal((await api.call('PUT', '/superuser/users/ida', { cookie: admin, body: { enabled: true } })).status, 200);
    assertError(await api.call('GET', '/user/', { cookie: ida }), 401);
    assert.equal((await api.call('GET', '/user/', { cookie: await api.signIn('ida', 'ida-password-1') })).status, 200);
  });

  it('refuses a robot token presented as a bearer token, and bodies over the limit', async () => {
    const cookie = await api.signIn('alice', 'alice-password-1');
    const robot = await api.call('PUT', '/user/robots/pusher', { cookie });
    assert.equal(robot.status, 201);
    assertError(await api.call('GET', '/user/', { bearer: robot.json.token as string, address: '198.51.100.10' }), 401, 'invalid_token');
    const huge = JSON.stringify({ title: 'x'.repeat(2 * 1024 * 1024) });
    assertError(await api.call('POST', '/user/apptoken', { cookie, raw: huge }), 413);
  });

  it('shows one app token without its code', async () => {
    const cookie = await api.signIn('alice', 'alice-password-1');
    const created = await api.call('POST', '/user/apptoken', { cookie, body: { title: 'one' } });
    const uuid = (created.json.token as { uuid: string }).uuid;
    const one = await api.call('GET', `/user/apptoken/${uuid}`, { cookie });
    assert.equal(one.status, 200);
    assert.equal((one.json.token as Record<string, unknown>).title, 'one');
    assert.equal((one.json.token as Record<string, unknown>).token_code, undefined);
    const bob = await api.signIn('bob', 'bob-password-1');
    assertError(await api.call('GET', `/user/apptoken/${uuid}`, { cookie: bob }), 404, 'not_found');
    assertError(await api.call('DELETE', `/user/apptoken/${uuid}`, { cookie: bob }), 404, 'not_found');
  });

  it('answers unknown endpoints with a Quay-shaped 404', async () => {
    assertError(await api.call('GET', '/nowhere'), 404, 'not_found');
  });
});
