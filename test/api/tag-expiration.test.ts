import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_TAG_EXPIRATION_SETTINGS } from '../../src/gc/tag-expiration.js';
import { assertError, auditRows, startApi, type Api } from './harness.js';

// Tag expiry through Quay's PUT .../tag/<tag> {"expiration"}, the namespace's window through PUT /user/ and
// PUT /organization/<org> {"tag_expiration_s"}, and restore within and past that window. The clock that tags
// are judged by is injected; sessions keep the real one.

interface TagEntry {
  name: string;
  manifest_digest: string;
  start_ts: number;
  end_ts?: number;
  expiration?: string;
}

const HOUR_S = 3600;
const DAY_S = 24 * HOUR_S;

describe('api: tag expiration and the time machine', () => {
  let api: Api;
  let alice: string;
  let bob: string;
  let clock = 1_700_000_000_000;
  let first: string;
  let second: string;
  const nowS = () => Math.floor(clock / 1000);
  const history = async (repo: string, tag: string, extra = '') =>
    (await api.call('GET', `/repository/${repo}/tag/?specificTag=${tag}${extra}`, { cookie: alice })).json.tags as TagEntry[];

  before(async () => {
    api = await startApi('sqlite', {}, undefined, {}, () => clock);
    await api.createUser('alice', 'alice-password-1');
    await api.createUser('bob', 'bob-password-1');
    alice = await api.signIn('alice', 'alice-password-1');
    bob = await api.signIn('bob', 'bob-password-1');
    assert.equal((await api.call('POST', '/repository', { cookie: alice, body: { namespace: 'alice', repository: 'app', visibility: 'private' } })).status, 201);
    first = await api.putManifest('alice/app', 'one');
    second = await api.putManifest('alice/app', 'two');
  });
  after(() => api.close());

  it('sets an expiry with the move, shows it as end_ts and expiration, and the tag leaves the active list at it', async () => {
    const expiration = nowS() + 2 * HOUR_S;
    const put = await api.call('PUT', '/repository/alice/app/tag/nightly', { cookie: alice, body: { manifest_digest: first, expiration } });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const [tag] = await history('alice/app', 'nightly');
    assert.equal(tag?.end_ts, expiration);
    assert.match(tag?.expiration ?? '', /-0000$/);
    const view = await api.call('GET', '/repository/alice/app', { cookie: alice });
    assert.ok(Object.hasOwn(view.json.tags as object, 'nightly'), 'an expiring tag is current');
    assert.equal(view.json.tag_expiration_s, DEFAULT_TAG_EXPIRATION_SETTINGS.defaultS);
    const logged = (await auditRows(api, 'change_tag_expiration')).find((r) => r.metadata.tag === 'nightly');
    assert.equal(logged?.metadata.old_expiration_date, null);

    clock += 2 * HOUR_S * 1000;
    assert.deepEqual(await history('alice/app', 'nightly', '&onlyActiveTags=true'), []);
    assert.ok(!Object.hasOwn((await api.call('GET', '/repository/alice/app', { cookie: alice })).json.tags as object, 'nightly'));
    assert.equal((await history('alice/app', 'nightly')).length, 1, 'still in the history');
    assertError(await api.call('PUT', '/repository/alice/app/tag/nightly', { cookie: alice, body: { expiration: null } }), 404, 'not_found', /nightly/);
  });

  it('clears an expiry with null and clamps one to an hour after the start, as Quay does', async () => {
    assert.equal((await api.call('PUT', '/repository/alice/app/tag/stable', { cookie: alice, body: { manifest_digest: first } })).status, 201);
    const start = nowS();
    assert.equal((await api.call('PUT', '/repository/alice/app/tag/stable', { cookie: alice, body: { expiration: start + 60 } })).status, 201);
    assert.equal((await history('alice/app', 'stable'))[0]?.end_ts, start + HOUR_S);
    assert.equal((await api.call('PUT', '/repository/alice/app/tag/stable', { cookie: alice, body: { expiration: null } })).status, 201);
    assert.equal((await history('alice/app', 'stable'))[0]?.end_ts, undefined);
  });

  it('refuses bad expirations, an empty change and a reader, without changing the tag', async () => {
    const tagPath = '/repository/alice/app/tag/stable';
    assertError(await api.call('PUT', tagPath, { cookie: alice, body: { expiration: nowS() - 10 } }), 400, 'invalid_request', /future/);
    assertError(await api.call('PUT', tagPath, { cookie: alice, body: { expiration: 'tomorrow' } }), 400, 'invalid_request', /expiration/);
    assertError(await api.call('PUT', tagPath, { cookie: alice, body: { expiration: -5 } }), 400, 'invalid_request', /expiration/);
    assertError(await api.call('PUT', tagPath, { cookie: alice, body: {} }), 400, 'invalid_request', /manifest_digest, expiration/);
    // A move whose expiry is refused does not move either.
    assertError(await api.call('PUT', tagPath, { cookie: alice, body: { manifest_digest: second, expiration: 1 } }), 400, 'invalid_request', /future/);
    assert.equal((await history('alice/app', 'stable'))[0]?.manifest_digest, first);
    assertError(await api.call('PUT', '/repository/alice/app/tag/absent', { cookie: alice, body: { expiration: nowS() + DAY_S } }), 404, 'not_found');
    assertError(await api.call('PUT', tagPath, { cookie: bob, body: { expiration: nowS() + DAY_S } }), 403);
  });

  it('restores within the default window and refuses past it with a clear error', async () => {
    assert.equal((await api.call('PUT', '/repository/alice/app/tag/rel', { cookie: alice, body: { manifest_digest: first } })).status, 201);
    assert.equal((await api.call('PUT', '/repository/alice/app/tag/rel', { cookie: alice, body: { manifest_digest: second } })).status, 201);
    clock += 13 * DAY_S * 1000;
    assert.equal((await api.call('POST', '/repository/alice/app/tag/rel/restore', { cookie: alice, body: { manifest_digest: first } })).status, 200, 'moved 13 days ago: within 2w');
    assert.equal((await api.call('DELETE', '/repository/alice/app/tag/rel', { cookie: alice })).status, 204);
    clock += 15 * DAY_S * 1000;
    const refused = assertError(
      await api.call('POST', '/repository/alice/app/tag/rel/restore', { cookie: alice, body: { manifest_digest: first } }),
      400,
      'invalid_request',
      /time machine window of namespace "alice" \(2w\)/,
    );
    assert.match(refused, /can no longer be restored/);
  });

  it("sets the user's and the organization's window, refusing values outside TAG_EXPIRATION_OPTIONS", async () => {
    const me = await api.call('PUT', '/user/', { cookie: alice, body: { tag_expiration_s: 4 * 7 * DAY_S } });
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.json.tag_expiration_s, 4 * 7 * DAY_S);
    assert.equal((await api.call('GET', '/user/', { cookie: alice })).json.tag_expiration_s, 4 * 7 * DAY_S);
    assert.equal((await api.call('GET', '/user/', { cookie: bob })).json.tag_expiration_s, 14 * DAY_S, "bob's is the default");
    assertError(await api.call('PUT', '/user/', { cookie: alice, body: { tag_expiration_s: 100 } }), 400, 'invalid_request', /TAG_EXPIRATION_OPTIONS: 0 \(0s\), 86400 \(1d\)/);
    assertError(await api.call('PUT', '/user/', { cookie: alice, body: { tag_expiration_s: 1e20 } }), 400, 'invalid_request');
    assertError(await api.call('PUT', '/user/', { cookie: alice, body: { tag_expiration_s: '1w' } }), 400, 'invalid_request', /seconds/);
    assertError(await api.call('PUT', '/user/', { body: { tag_expiration_s: 0 } }), 401);

    assert.equal((await api.call('POST', '/organization/', { cookie: alice, body: { name: 'acme' } })).status, 201);
    const org = await api.call('PUT', '/organization/acme', { cookie: alice, body: { tag_expiration_s: 7 * DAY_S } });
    assert.equal(org.status, 200, JSON.stringify(org.body));
    assert.equal(org.json.tag_expiration_s, 7 * DAY_S);
    assert.equal((await api.call('GET', '/organization/acme', { cookie: alice })).json.tag_expiration_s, 7 * DAY_S);
    assert.equal((await api.call('GET', '/organization/acme', { cookie: bob })).json.tag_expiration_s, undefined, 'only admins see it');
    assertError(await api.call('PUT', '/organization/acme', { cookie: bob, body: { tag_expiration_s: 0 } }), 403);
    assertError(await api.call('PUT', '/organization/acme', { cookie: alice, body: { tag_expiration_s: -1 } }), 400, 'invalid_request');
    assert.equal((await auditRows(api, 'org_change_tag_expiration'))[0]?.metadata.tag_expiration, 7 * DAY_S);
  });

  it("restores within the organization's own window (longer than the default) and refuses past it", async () => {
    assert.equal((await api.call('POST', '/repository', { cookie: alice, body: { namespace: 'acme', repository: 'svc', visibility: 'private' } })).status, 201);
    const image = await api.putManifest('acme/svc', 'svc');
    assert.equal((await api.call('PUT', '/organization/acme', { cookie: alice, body: { tag_expiration_s: 4 * 7 * DAY_S } })).status, 200);
    assert.equal((await api.call('PUT', '/repository/acme/svc/tag/prod', { cookie: alice, body: { manifest_digest: image } })).status, 201);
    assert.equal((await api.call('DELETE', '/repository/acme/svc/tag/prod', { cookie: alice })).status, 204);
    clock += 20 * DAY_S * 1000;
    assert.equal((await api.call('POST', '/repository/acme/svc/tag/prod/restore', { cookie: alice, body: { manifest_digest: image } })).status, 200, '20 days: within 4w');
    assert.equal((await api.call('DELETE', '/repository/acme/svc/tag/prod', { cookie: alice })).status, 204);
    assert.equal((await api.call('PUT', '/organization/acme', { cookie: alice, body: { tag_expiration_s: DAY_S } })).status, 200);
    clock += 2 * DAY_S * 1000;
    assertError(
      await api.call('POST', '/repository/acme/svc/tag/prod/restore', { cookie: alice, body: { manifest_digest: image } }),
      400,
      'invalid_request',
      /namespace "acme" \(1d\)/,
    );
  });
});

describe('api: FEATURE_CHANGE_TAG_EXPIRATION off', () => {
  let api: Api;
  let alice: string;
  before(async () => {
    api = await startApi('sqlite', { tagExpiration: { ...DEFAULT_TAG_EXPIRATION_SETTINGS, changeable: false } });
    await api.createUser('alice', 'alice-password-1');
    alice = await api.signIn('alice', 'alice-password-1');
    assert.equal((await api.call('POST', '/repository', { cookie: alice, body: { namespace: 'alice', repository: 'app', visibility: 'private' } })).status, 201);
  });
  after(() => api.close());

  it('refuses expiries and windows, still moves tags', async () => {
    const digest = await api.putManifest('alice/app');
    assert.equal((await api.call('PUT', '/repository/alice/app/tag/t', { cookie: alice, body: { manifest_digest: digest } })).status, 201);
    assertError(
      await api.call('PUT', '/repository/alice/app/tag/t', { cookie: alice, body: { expiration: Math.floor(Date.now() / 1000) + 86400 } }),
      400,
      'invalid_request',
      /FEATURE_CHANGE_TAG_EXPIRATION/,
    );
    assertError(await api.call('PUT', '/user/', { cookie: alice, body: { tag_expiration_s: 0 } }), 400, 'invalid_request', /FEATURE_CHANGE_TAG_EXPIRATION/);
  });
});
