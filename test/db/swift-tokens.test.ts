// The fleet's shared Swift token (src/db/swift-tokens.ts, sealed by src/storage/swift/token-seal.ts) on every
// dialect: what is written opens again under the same credentials only, nothing in the row shows the token,
// a token expiring within the margin is not returned, and a drop deletes only the token it names.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KyselySharedTokenCache } from '../../src/db/swift-tokens.js';
import { sharedTokenKey, TokenSeal, type SealParams } from '../../src/storage/swift/token-seal.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const credentials: SealParams = {
  auth_url: 'http://keystone.example:5000/v3',
  auth_version: 3,
  swift_user: 'registry',
  swift_password: 'correct horse battery staple',
  os_options: { project_name: 'quay', user_domain_name: 'Default', project_domain_name: 'Default', region_name: 'RegionOne' },
};

const HOUR = 3600_000;

for (const dialect of ALL_DIALECTS) {
  describe(`shared Swift tokens on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let cache: KyselySharedTokenCache;
    let seal: TokenSeal;
    before(async () => {
      fresh = await freshDatabase(dialect);
      cache = new KyselySharedTokenCache(fresh.database);
      seal = await TokenSeal.derive(credentials);
    });
    after(() => fresh.drop());

    it('round trip: the same credentials open what was written; the row shows neither token nor storage URL', async () => {
      const session = { token: 'gAAAAABtoken-round-trip', storageUrl: 'http://swift.example:8080/v1/AUTH_abc', expiresAt: Date.now() + HOUR };
      await cache.put(seal.key, seal.seal(session));
      const record = await cache.get(seal.key, Date.now());
      assert.ok(record !== undefined);
      assert.deepEqual(seal.open(record), session);
      // A second process derives the same keys from the same configuration.
      assert.deepEqual((await TokenSeal.derive(credentials)).open(record), session);
      const row = await fresh.database.db.selectFrom('swift_auth_token').selectAll().where('cache_key', '=', seal.key).executeTakeFirstOrThrow();
      const stored = JSON.stringify(row);
      assert.ok(!stored.includes(session.token) && !stored.includes('AUTH_abc'), 'nothing in clear');
      assert.ok(!stored.includes(Buffer.from(session.token).toString('base64')), 'not merely encoded');
      assert.ok(!stored.includes(credentials.swift_password));
      assert.equal(row.cache_key, sharedTokenKey(credentials));
    });

    it('a token without an expiry is stored and read back without one', async () => {
      const other = await TokenSeal.derive({ ...credentials, swift_user: 'no-expiry' });
      const session = { token: 'AUTH_tk-no-expiry', storageUrl: 'http://swift.example:8080/v1/AUTH_test' };
      await cache.put(other.key, other.seal(session));
      const record = await cache.get(other.key, Date.now() + 100 * HOUR);
      assert.ok(record !== undefined, 'no expiry: usable whatever the margin');
      assert.deepEqual(other.open(record), session);
    });

    it('a wrong password, or other credentials, cannot read the token', async () => {
      await cache.put(seal.key, seal.seal({ token: 'secret-token', storageUrl: 'http://swift.example/v1/AUTH_abc', expiresAt: Date.now() + HOUR }));
      const record = await cache.get(seal.key, Date.now());
      assert.ok(record !== undefined);
      const wrongPassword = await TokenSeal.derive({ ...credentials, swift_password: 'wrong' });
      assert.equal(wrongPassword.key, seal.key, 'the row key does not depend on the password');
      assert.equal(wrongPassword.open(record), undefined);
      // The same row moved under the key of other credentials does not open for them either (the key is authenticated).
      const otherProject = await TokenSeal.derive({ ...credentials, os_options: { ...credentials.os_options, project_name: 'other' } });
      assert.notEqual(otherProject.key, seal.key);
      assert.equal(otherProject.open(record), undefined);
      assert.equal(seal.open({ ...record, sealed: Buffer.from('short').toString('base64') }), undefined, 'a damaged row reads as none');
      const bytes = Buffer.from(record.sealed, 'base64');
      bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 1;
      assert.equal(seal.open({ ...record, sealed: bytes.toString('base64') }), undefined, 'a flipped bit reads as none');
    });

    it('a token expiring at or before the asked time is not returned', async () => {
      const expiresAt = Date.now() + 30_000;
      await cache.put(seal.key, seal.seal({ token: 'expiring', storageUrl: 'http://swift.example/v1/AUTH_abc', expiresAt }));
      assert.ok((await cache.get(seal.key, expiresAt - 1)) !== undefined);
      assert.equal(await cache.get(seal.key, expiresAt), undefined);
      assert.equal(await cache.get(seal.key, expiresAt + 60_000), undefined);
    });

    it('the last writer wins; a drop deletes only the token it names', async () => {
      const first = { token: 'first-token', storageUrl: 'http://swift.example/v1/AUTH_abc', expiresAt: Date.now() + HOUR };
      const second = { ...first, token: 'second-token' };
      await cache.put(seal.key, seal.seal(first));
      await cache.put(seal.key, seal.seal(second));
      const current = await cache.get(seal.key, Date.now());
      assert.equal(current === undefined ? undefined : seal.open(current)?.token, 'second-token');
      // An instance that saw the first token refused must not delete the newer one.
      await cache.drop(seal.key, seal.fingerprint('first-token'));
      const kept = await cache.get(seal.key, Date.now());
      assert.equal(kept === undefined ? undefined : seal.open(kept)?.token, 'second-token');
      await cache.drop(seal.key, seal.fingerprint('second-token'));
      assert.equal(await cache.get(seal.key, Date.now()), undefined);
    });

    it('a write forgets rows that expired more than a day ago', async () => {
      const stale = await TokenSeal.derive({ ...credentials, swift_user: 'stale' });
      const old = stale.seal({ token: 'old', storageUrl: 'http://swift.example/v1/AUTH_abc', expiresAt: Date.now() - 25 * HOUR });
      await fresh.database.db.insertInto('swift_auth_token').values({ cache_key: stale.key, sealed: old.sealed, fingerprint: old.fingerprint, expires_at: old.expiresAt ?? null, written_at: Date.now() - 26 * HOUR }).execute();
      await cache.put(seal.key, seal.seal({ token: 'new', storageUrl: 'http://swift.example/v1/AUTH_abc', expiresAt: Date.now() + HOUR }));
      const keys = (await fresh.database.db.selectFrom('swift_auth_token').select('cache_key').execute()).map((row) => row.cache_key);
      assert.ok(!keys.includes(stale.key));
      assert.ok(keys.includes(seal.key));
    });
  });
}
