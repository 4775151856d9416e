import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AccountMetadata, AccountRecord, ServiceKeyRecord } from '../../src/db/account-metadata.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const hash = (c: string): string => c.repeat(64);
const PEM = `-----BEGIN PUBLIC KEY-----\n${'A'.repeat(64)}\n${'B'.repeat(40)}==\n-----END PUBLIC KEY-----\n`;

for (const dialect of ALL_DIALECTS) {
  describe(`app tokens, service keys, sessions and throttling on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let accounts: AccountMetadata;
    let clock = 1_700_000_000_000;
    let user: AccountRecord;
    before(async () => {
      fresh = await freshDatabase(dialect);
      accounts = createAccountMetadata(fresh.database, { now: () => clock });
      user = await accounts.accounts.createUser({ name: 'tess', email: 'tess@example.com', passwordHash: null });
    });
    after(() => fresh.drop());

    it('creates app tokens, finds one by hash with its owner, touches, lists and revokes', async () => {
      const expires = new Date(clock + 86_400_000);
      const first = await accounts.appTokens.create(user.id, 'laptop', hash('1'), expires);
      assert.match(first.id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(first, {
        id: first.id,
        accountId: user.id,
        title: 'laptop',
        createdAt: new Date(clock),
        expiresAt: expires,
        lastUsedAt: null,
      });
      clock += 1000;
      const second = await accounts.appTokens.create(user.id, 'ci', hash('2'), null);
      assert.equal(second.expiresAt, null);

      const found = await accounts.appTokens.findByHash(hash('1'));
      assert.deepEqual(found?.token, first);
      assert.deepEqual(found?.account, await accounts.accounts.getAccountById(user.id));
      assert.equal(await accounts.appTokens.findByHash(hash('9')), undefined);

      clock += 5000;
      await accounts.appTokens.touch(first.id);
      assert.deepEqual((await accounts.appTokens.findByHash(hash('1')))?.token.lastUsedAt, new Date(clock));
      await accounts.appTokens.touch('00000000-0000-0000-0000-000000000000');

      assert.deepEqual((await accounts.appTokens.list(user.id)).map((t) => t.title), ['laptop', 'ci']);
      const other = await accounts.accounts.createUser({ name: 'other', email: null, passwordHash: null });
      assert.deepEqual(await accounts.appTokens.list(other.id), []);
      assert.equal(await accounts.appTokens.revoke(other.id, first.id), false, "another account cannot revoke it");
      assert.equal(await accounts.appTokens.revoke(user.id, first.id), true);
      assert.equal(await accounts.appTokens.revoke(user.id, first.id), false);
      assert.equal(await accounts.appTokens.findByHash(hash('1')), undefined);
      assert.deepEqual((await accounts.appTokens.list(user.id)).map((t) => t.id), [second.id]);
    });

    it('gets one app token of its own account only', async () => {
      clock += 1000;
      const token = await accounts.appTokens.create(user.id, 'single', hash('3'), null);
      const stranger = await accounts.accounts.createUser({ name: 'stranger', email: null, passwordHash: null });
      assert.deepEqual(await accounts.appTokens.get(user.id, token.id), token);
      assert.equal(await accounts.appTokens.get(stranger.id, token.id), undefined, "another account's token is not found");
      assert.equal(await accounts.appTokens.get(user.id, '00000000-0000-0000-0000-000000000000'), undefined);
      assert.equal(await accounts.appTokens.get(user.id, 'x'.repeat(64)), undefined, 'an id longer than the column is just not found');
      clock += 1000;
      await accounts.appTokens.touch(token.id);
      assert.deepEqual((await accounts.appTokens.get(user.id, token.id))?.lastUsedAt, new Date(clock));
      assert.equal(await accounts.appTokens.revoke(user.id, token.id), true);
      assert.equal(await accounts.appTokens.get(user.id, token.id), undefined);
    });

    it('publishes service keys, lists the active ones newest first and deletes expired ones', async () => {
      const key = (kid: string, createdAt: number, expiresAt: number): ServiceKeyRecord => ({
        kid,
        publicKeyPem: PEM,
        createdBy: 'host-a:1234',
        createdAt: new Date(createdAt),
        expiresAt: new Date(expiresAt),
      });
      const t = 1_800_000_000_000;
      const old = key('kid-old', t - 10_000, t - 1);
      const current = key('kid-current', t - 5_000, t + 10_000);
      const newest = key('kid-newest', t - 1_000, t + 20_000);
      for (const k of [old, current, newest]) await accounts.serviceKeys.publish(k);
      assert.deepEqual(await accounts.serviceKeys.get('kid-current'), current);
      assert.equal(await accounts.serviceKeys.get('kid-none'), undefined);
      assert.deepEqual(await accounts.serviceKeys.listActive(new Date(t)), [newest, current]);

      // Publishing a kid again renews it.
      const renewed = { ...old, expiresAt: new Date(t + 30_000) };
      await accounts.serviceKeys.publish(renewed);
      assert.deepEqual(await accounts.serviceKeys.get('kid-old'), renewed);
      assert.deepEqual((await accounts.serviceKeys.listActive(new Date(t))).map((k) => k.kid), ['kid-newest', 'kid-current', 'kid-old']);

      // Keys that expired before the cut-off go; the one expiring exactly at it stays.
      assert.equal(await accounts.serviceKeys.deleteExpired(new Date(t + 10_000)), 0);
      assert.equal(await accounts.serviceKeys.deleteExpired(new Date(t + 20_001)), 2);
      assert.deepEqual((await accounts.serviceKeys.listActive(new Date(0))).map((k) => k.kid), ['kid-old']);
      assert.equal(await accounts.serviceKeys.get('kid-current'), undefined);
    });

    it('stores sessions by id hash and deletes them one by one or when expired', async () => {
      await accounts.sessions.create(hash('a'), user.id, new Date(clock + 1000));
      await accounts.sessions.create(hash('b'), user.id, new Date(clock + 60_000));
      assert.deepEqual(await accounts.sessions.get(hash('a')), {
        accountId: user.id,
        createdAt: new Date(clock),
        expiresAt: new Date(clock + 1000),
      });
      assert.equal(await accounts.sessions.get(hash('c')), undefined);
      assert.equal(await accounts.sessions.deleteExpired(new Date(clock + 1000)), 0);
      assert.equal(await accounts.sessions.deleteExpired(new Date(clock + 1001)), 1);
      assert.equal(await accounts.sessions.get(hash('a')), undefined);
      await accounts.sessions.delete(hash('b'));
      await accounts.sessions.delete(hash('b'));
      assert.equal(await accounts.sessions.get(hash('b')), undefined);
    });

    it("deletes every session of one account and no one else's", async () => {
      const other = await accounts.accounts.createUser({ name: 'sessionless', email: null, passwordHash: null });
      await accounts.sessions.create(hash('d'), user.id, new Date(clock + 60_000));
      await accounts.sessions.create(hash('e'), user.id, new Date(clock - 1));
      await accounts.sessions.create(hash('f'), other.id, new Date(clock + 60_000));
      assert.equal(await accounts.sessions.deleteForAccount(user.id), 2, 'expired ones included');
      assert.equal(await accounts.sessions.get(hash('d')), undefined);
      assert.equal(await accounts.sessions.get(hash('e')), undefined);
      assert.equal((await accounts.sessions.get(hash('f')))?.accountId, other.id);
      assert.equal(await accounts.sessions.deleteForAccount(user.id), 0);
      assert.equal(await accounts.sessions.deleteForAccount(987_654), 0);
      await accounts.sessions.delete(hash('f'));
    });

    it('upserts, reads and resets login throttle state', async () => {
      const key = 'account:tess';
      assert.equal(await accounts.throttle.get(key), undefined);
      await accounts.throttle.put(key, { failures: 1, lastFailureAt: new Date(clock) });
      await accounts.throttle.put(key, { failures: 2, lastFailureAt: new Date(clock + 500) });
      assert.deepEqual(await accounts.throttle.get(key), { failures: 2, lastFailureAt: new Date(clock + 500) });
      await accounts.throttle.put('address:203.0.113.9', { failures: 7, lastFailureAt: new Date(clock) });
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => accounts.throttle.put('address:198.51.100.1', { failures: i, lastFailureAt: new Date(clock) })),
      );
      assert.ok(((await accounts.throttle.get('address:198.51.100.1'))?.failures ?? -1) >= 0);
      await accounts.throttle.reset(key);
      await accounts.throttle.reset(key);
      assert.equal(await accounts.throttle.get(key), undefined);
      assert.equal((await accounts.throttle.get('address:203.0.113.9'))?.failures, 7);
    });
  });
}
