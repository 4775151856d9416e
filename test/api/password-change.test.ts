// PUT /api/v1/user/ with a new password: the current one is checked in the same request, an app-specific token
// cannot change it, every session ends, and the new password signs in while the old one no longer does.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auditRows, startApi, type Api } from './harness.js';

describe('api: a user changes their own password', () => {
  let api: Api;
  before(async () => {
    api = await startApi('sqlite');
    await api.createUser('carol', 'carol-password-1');
  });
  after(() => api.close());

  it('refuses a missing or wrong current password, a weak new one and an app-specific token, and changes nothing', async () => {
    const cookie = await api.signIn('carol', 'carol-password-1');
    const missing = await api.call('PUT', '/user/', { cookie, body: { password: 'carol-password-2' } });
    assert.equal(missing.status, 400);
    assert.match(String(missing.json.error_message), /current_password/);
    const wrong = await api.call('PUT', '/user/', { cookie, body: { password: 'carol-password-2', current_password: 'not-it-at-all' } });
    assert.equal(wrong.status, 403);
    const weak = await api.call('PUT', '/user/', { cookie, body: { password: 'short', current_password: 'carol-password-1' } });
    assert.equal(weak.status, 400);
    const typed = await api.call('PUT', '/user/', { cookie, body: { password: 42, current_password: 'carol-password-1' } });
    assert.equal(typed.status, 400);
    // An app-specific token is not the password, even though docker login accepts it as one.
    const token = await api.appToken(cookie);
    const withToken = await api.call('PUT', '/user/', { bearer: token, body: { password: 'carol-password-2', current_password: token } });
    assert.equal(withToken.status, 403);
    assert.equal((await api.call('GET', '/user/', { cookie })).status, 200, 'the session still works');
    assert.equal((await api.call('POST', '/signin', { body: { username: 'carol', password: 'carol-password-1' } })).status, 200);
    assert.ok((await auditRows(api, 'user_change_password_failed')).length >= 2);
  });

  it('changes it with the current password: every session ends, the new password signs in, the old one does not', async () => {
    const cookie = await api.signIn('carol', 'carol-password-1');
    const other = await api.signIn('carol', 'carol-password-1');
    const changed = await api.call('PUT', '/user/', { cookie, body: { password: 'carol-password-2', current_password: 'carol-password-1' } });
    assert.equal(changed.status, 200, JSON.stringify(changed.json));
    assert.equal((await api.call('GET', '/user/', { cookie })).status, 401);
    assert.equal((await api.call('GET', '/user/', { cookie: other })).status, 401);
    assert.equal((await api.call('POST', '/signin', { body: { username: 'carol', password: 'carol-password-1' }, address: '10.9.9.9' })).status, 403);
    assert.equal((await api.call('POST', '/signin', { body: { username: 'carol', password: 'carol-password-2' } })).status, 200);
    const rows = await auditRows(api, 'user_change_password');
    assert.equal(rows.length, 1);
  });
});

describe('api: the current password is throttled as a login is', () => {
  let api: Api;
  before(async () => {
    api = await startApi('sqlite', { loginFreeAttempts: 2 });
    await api.createUser('dave', 'dave-password-1');
  });
  after(() => api.close());

  it('counts wrong current passwords against the account: past the free attempts the change and a sign-in wait', async () => {
    const cookie = await api.signIn('dave', 'dave-password-1', '10.1.1.1');
    const body = { password: 'dave-password-2', current_password: 'a-wrong-guess' };
    assert.equal((await api.call('PUT', '/user/', { cookie, body, address: '10.1.1.1' })).status, 403);
    assert.equal((await api.call('PUT', '/user/', { cookie, body, address: '10.1.1.1' })).status, 403);
    const throttled = await api.call('PUT', '/user/', { cookie, body: { ...body, current_password: 'another-guess' }, address: '10.1.1.1' });
    assert.equal(throttled.status, 429, 'a third guess waits');
    assert.match(String(throttled.json.error_message), /too many failed login attempts/);
    // The guesses counted against the account, so a guess at sign-in from elsewhere waits too.
    const signIn = await api.call('POST', '/signin', { body: { username: 'dave', password: 'a-third-guess' }, address: '10.2.2.2' });
    assert.equal(signIn.status, 429);
    assert.equal((await api.call('GET', '/user/', { cookie, address: '10.1.1.1' })).status, 200, 'the session was not ended by the guesses');
    const failures = await auditRows(api, 'user_change_password_failed');
    assert.deepEqual(failures.map((row) => (row.metadata as { reason?: string }).reason).sort(), ['invalid', 'invalid', 'throttled']);
    const loginFailures = await auditRows(api, 'login_failure');
    assert.equal(loginFailures.length, 1, 'only the sign-in wrote a login audit row, not the confirmations');
  });
});
