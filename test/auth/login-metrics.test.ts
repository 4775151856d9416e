import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuditLog } from '../../src/audit/audit-log.js';
import { AuthenticatorService } from '../../src/auth/authenticator.js';
import { countingLogins } from '../../src/auth/login-metrics.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { LoginThrottle } from '../../src/auth/throttle.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { createMetricsRegistry } from '../../src/metrics/registry.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { createUser, MemoryLog } from './fixtures.js';

describe('login metrics', () => {
  let fresh: FreshDatabase;
  let audit: AuditLog;
  before(async () => {
    fresh = await freshDatabase('sqlite');
  });
  after(async () => {
    await audit?.close();
    await fresh?.drop();
  });

  it('count failures by reason and throttled logins, in the given registry', async () => {
    const accounts = createAccountMetadata(fresh.database);
    const log = new MemoryLog();
    audit = new AuditLog(accounts.audit, log, { flushIntervalMs: 10 });
    const metrics = createMetricsRegistry();
    const inner = new AuthenticatorService(accounts, new LoginThrottle(accounts.throttle, { freeAttempts: 2, maxDelayS: 60 }), audit, log, {
      superUsers: new Set(),
      appSpecificTokens: true,
    });
    const authenticator = countingLogins(inner, metrics);
    await createUser(accounts, 'alice', await hashPassword('right password'));

    assert.equal((await authenticator.login('alice', 'right password', '192.0.2.1')).ok, true);
    for (let i = 0; i < 2; i++) assert.equal((await authenticator.login('alice', 'wrong', '192.0.2.1')).ok, false);
    const third = await authenticator.login('alice', 'wrong', '192.0.2.1');
    assert.ok(!third.ok && third.reason === 'throttled');

    const text = await metrics.metrics();
    assert.match(text, /^quayside_login_failures_total\{reason="invalid"\} 2$/m);
    assert.match(text, /^quayside_logins_throttled_total 1$/m);
  });
});
