import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FAILURE_DECAY_MS } from '../../src/auth/throttle.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import type { AccountMetadata } from '../../src/db/account-metadata.js';
import { cleanupAccounts } from '../../src/workers/account-cleanup.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const NOW = 1_800_000_000_000;

for (const dialect of ALL_DIALECTS) {
  describe(`account cleanup (${dialect})`, () => {
    let fresh: FreshDatabase;
    let accounts: AccountMetadata;
    before(async () => {
      fresh = await freshDatabase(dialect);
      accounts = createAccountMetadata(fresh.database, { now: () => NOW });
    });
    after(() => fresh?.drop());

    it('removes expired sessions and forgotten throttle keys, keeps the rest', async () => {
      const user = await accounts.accounts.createUser({ name: 'sam', email: null, passwordHash: null });
      await accounts.sessions.create('a'.repeat(64), user.id, new Date(NOW - 1));
      await accounts.sessions.create('b'.repeat(64), user.id, new Date(NOW + 3600_000));
      await accounts.throttle.put('address:192.0.2.1', { failures: 7, lastFailureAt: new Date(NOW - FAILURE_DECAY_MS - 1) });
      await accounts.throttle.put('address:192.0.2.2', { failures: 7, lastFailureAt: new Date(NOW - 1000) });

      assert.deepEqual(await cleanupAccounts(accounts, NOW), { sessions: 1, throttleKeys: 1 });
      assert.equal(await accounts.sessions.get('a'.repeat(64)), undefined);
      assert.equal((await accounts.sessions.get('b'.repeat(64)))?.accountId, user.id);
      assert.equal(await accounts.throttle.get('address:192.0.2.1'), undefined);
      assert.equal((await accounts.throttle.get('address:192.0.2.2'))?.failures, 7);
      assert.deepEqual(await cleanupAccounts(accounts, NOW), { sessions: 0, throttleKeys: 0 }, 'a second run finds nothing');
    });
  });
}
