// Issue 9: the throttle was checked before and counted after the password, so parallel wrong passwords all
// passed the gate: 20 in parallel had 16 evaluated where at most 5 should be. Through the real authenticator
// (bcrypt included) on every dialect, with an injected clock for the waiting periods.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuditLog } from '../../src/audit/audit-log.js';
import { AuthenticatorService } from '../../src/auth/authenticator.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { LoginThrottle } from '../../src/auth/throttle.js';
import type { AccountMetadata } from '../../src/db/account-metadata.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { createUser, MemoryLog } from './fixtures.js';

const FREE_ATTEMPTS = 5;

for (const dialect of ALL_DIALECTS) {
  describe(`parallel wrong passwords on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let accounts: AccountMetadata;
    let audit: AuditLog;
    const clock = { now: 1_700_000_000_000 };
    // Two authenticators over one database, as two instances of a fleet.
    let instances: AuthenticatorService[];

    before(async () => {
      fresh = await freshDatabase(dialect);
      accounts = createAccountMetadata(fresh.database, { now: () => clock.now });
      const log = new MemoryLog();
      audit = new AuditLog(accounts.audit, log);
      const build = () =>
        new AuthenticatorService(accounts, new LoginThrottle(accounts.throttle, { freeAttempts: FREE_ATTEMPTS, maxDelayS: 60 }, () => clock.now), audit, log, {
          superUsers: new Set(),
          appSpecificTokens: true,
          now: () => clock.now,
        });
      instances = [build(), build()];
      await createUser(accounts, 'target', await hashPassword('the right password'));
    });
    after(async () => {
      await audit?.close();
      await fresh?.drop();
    });

    for (const parallel of [20, 40, 100]) {
      it(`${parallel} in parallel: at most ${FREE_ATTEMPTS}, then one per Retry-After window`, async () => {
        const address = `198.51.100.${parallel}`;
        const burst = async () => {
          const results = await Promise.all(
            Array.from({ length: parallel }, (_, i) => (instances[i % 2] as AuthenticatorService).login('target', `wrong-${i}`, address)),
          );
          let evaluated = 0;
          let retryAfterS = 0;
          for (const result of results) {
            assert.equal(result.ok, false);
            if (result.ok) continue;
            if (result.reason === 'invalid') evaluated += 1;
            else retryAfterS = Math.max(retryAfterS, result.retryAfterS ?? 0);
          }
          return { evaluated, retryAfterS };
        };
        const windows: number[] = [];
        for (let window = 0; window < 4; window++) {
          const { evaluated, retryAfterS } = await burst();
          windows.push(evaluated);
          assert.ok(retryAfterS > 0, 'the rest of the burst was told when to retry');
          clock.now += retryAfterS * 1000;
        }
        console.log(`authenticator ${dialect}: ${parallel} parallel wrong passwords evaluated per window: ${windows.join(', ')}`);
        assert.deepEqual(windows, [FREE_ATTEMPTS, 1, 1, 1]);
        // The right password after the last wait logs in and forgets the account's failures.
        const ok = await (instances[0] as AuthenticatorService).login('target', 'the right password', address);
        assert.equal(ok.ok, true);
        // A fresh start for the next concurrency level: the address keeps its count, so it moves on too.
        clock.now += 16 * 60 * 1000;
      });
    }
  });
}
