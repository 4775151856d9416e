import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuditLog } from '../../src/audit/audit-log.js';
import { AuthenticatorService } from '../../src/auth/authenticator.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { hashSecret } from '../../src/auth/secrets.js';
import type { LoginResult } from '../../src/auth/services.js';
import { LoginThrottle } from '../../src/auth/throttle.js';
import type { AccountMetadata, AccountRecord } from '../../src/db/account-metadata.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { cpuMicros } from '../helpers/cpu-time.js';
import { waitUntil } from '../helpers/wait.js';
import { auditRows, createRobot, createUser, MemoryLog } from './fixtures.js';

const PASSWORD = 'correct horse battery';
const ROBOT_TOKEN = 'robot-token-0123456789-abcdefghijklmnopqrstuvwxyz';
const APP_TOKEN = 'app-token-0123456789-abcdefghijklmnopqrstuvwxyz';
const EXPIRED_APP_TOKEN = 'old-app-token-0123456789-abcdefghijklmnopqrstu';

function failed(result: LoginResult, reason: 'invalid' | 'disabled' | 'throttled'): Extract<LoginResult, { ok: false }> {
  assert.equal(result.ok, false, 'the login should have failed');
  if (result.ok) throw new Error('unreachable');
  assert.equal(result.reason, reason, result.message);
  return result;
}

function succeeded(result: LoginResult) {
  if (!result.ok) assert.fail(`login failed: ${result.reason} ${result.message}`);
  return result.identity;
}

for (const dialect of ALL_DIALECTS) {
  describe(`authenticator on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let accounts: AccountMetadata;
    let audit: AuditLog;
    let log: MemoryLog;
    const clock = { now: Date.now() };
    let authenticator: AuthenticatorService;
    let alice: AccountRecord;
    let acme: AccountRecord;
    let appTokenId: string;

    // Only the throttling test counts failures to the limit; the others stay far below it.
    const build = (options: { appSpecificTokens?: boolean; freeAttempts?: number } = {}) =>
      new AuthenticatorService(accounts, new LoginThrottle(accounts.throttle, { freeAttempts: options.freeAttempts ?? 100, maxDelayS: 60 }, () => clock.now), audit, log, {
        superUsers: new Set(['root']),
        appSpecificTokens: options.appSpecificTokens ?? true,
        now: () => clock.now,
      });

    before(async () => {
      fresh = await freshDatabase(dialect);
      accounts = createAccountMetadata(fresh.database, { now: () => clock.now });
      log = new MemoryLog();
      audit = new AuditLog(accounts.audit, log, { flushIntervalMs: 10 });
      authenticator = build();
      const hash = await hashPassword(PASSWORD);
      alice = await createUser(accounts, 'alice', hash);
      await createUser(accounts, 'root', hash);
      await createUser(accounts, 'bob', hash);
      await createUser(accounts, 'carol', hash);
      const dora = await createUser(accounts, 'dora', hash);
      await accounts.accounts.setEnabled(dora.id, false);
      await createUser(accounts, 'nopass', null);
      acme = await accounts.accounts.createOrganization({ name: 'acme', email: null, ownerId: alice.id });
      await createRobot(accounts, acme, 'ci', ROBOT_TOKEN);
      const disabledRobot = await createRobot(accounts, acme, 'off', ROBOT_TOKEN);
      await accounts.accounts.setEnabled(disabledRobot.id, false);
      appTokenId = (await accounts.appTokens.create(alice.id, 'laptop', hashSecret(APP_TOKEN), null)).id;
      await accounts.appTokens.create(alice.id, 'old', hashSecret(EXPIRED_APP_TOKEN), new Date(clock.now - 1000));
    });
    after(async () => {
      await audit.close();
      await fresh.drop();
    });

    it('logs a user in with a password and audits it', async () => {
      const identity = succeeded(await authenticator.login('alice', PASSWORD, '192.0.2.1'));
      assert.deepEqual(identity, { kind: 'user', id: alice.id, name: 'alice', superuser: false });
      const rows = (await auditRows(audit, ['login_success'])).filter((r) => r.clientAddress === '192.0.2.1');
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.namespace, 'alice');
      assert.deepEqual(rows[0]?.performer, { id: alice.id, name: 'alice', kind: 'user' });
      assert.deepEqual(rows[0]?.metadata, { type: 'password', username: 'alice' });
    });

    it('marks superusers', async () => {
      assert.deepEqual(succeeded(await authenticator.login('root', PASSWORD, '192.0.2.2')), { kind: 'user', id: (await accounts.accounts.getAccount('root'))?.id, name: 'root', superuser: true });
    });

    it('gives unknown users and wrong passwords the same answer after the same bcrypt work', async () => {
      let wrong: LoginResult | undefined;
      let unknown: LoginResult | undefined;
      const wrongCpu = await cpuMicros(async () => (wrong = await authenticator.login('bob', 'not the password', '192.0.2.3')));
      const unknownCpu = await cpuMicros(async () => (unknown = await authenticator.login('nobody', 'not the password', '192.0.2.4')));
      assert.ok(wrong && unknown);
      assert.equal(failed(wrong, 'invalid').message, failed(unknown, 'invalid').message);
      assert.equal(failed(unknown, 'invalid').message, 'invalid username or password');
      assert.ok(unknownCpu > wrongCpu * 0.3, `an unknown user cost ${unknownCpu} µs of CPU, a wrong password ${wrongCpu} µs`);
      const rows = await auditRows(audit, ['login_failure']);
      const bob = rows.find((r) => r.clientAddress === '192.0.2.3');
      assert.deepEqual(bob?.metadata, { username: 'bob', reason: 'invalid' });
      assert.equal(bob?.namespace, 'bob');
      const nobody = rows.find((r) => r.clientAddress === '192.0.2.4');
      assert.deepEqual(nobody?.metadata, { username: 'nobody', reason: 'invalid' });
      assert.equal(nobody?.namespace, null);
    });

    it('refuses organizations, users without a password, empty and enormous secrets', async () => {
      failed(await authenticator.login('acme', PASSWORD, '192.0.2.5'), 'invalid');
      failed(await authenticator.login('nopass', PASSWORD, '192.0.2.5'), 'invalid');
      failed(await authenticator.login('alice', '', '192.0.2.6'), 'invalid');
      failed(await authenticator.login('', PASSWORD, '192.0.2.6'), 'invalid');
      let enormous: LoginResult | undefined;
      const enormousCpu = await cpuMicros(async () => (enormous = await authenticator.login('alice', 'x'.repeat(1_000_000), '192.0.2.7')));
      const wrongCpu = await cpuMicros(async () => failed(await authenticator.login('alice', 'wrong password', '192.0.2.7'), 'invalid'));
      assert.ok(enormous);
      failed(enormous, 'invalid');
      assert.ok(enormousCpu < wrongCpu / 2, `refused a megabyte with ${enormousCpu} µs of CPU, a wrong password took ${wrongCpu} µs: it was hashed`);
      const rows = (await auditRows(audit, ['login_failure'])).filter((r) => r.clientAddress === '192.0.2.7');
      assert.equal(rows.length, 2);
    });

    it('refuses disabled accounts only once the credentials are right', async () => {
      const disabled = failed(await authenticator.login('dora', PASSWORD, '192.0.2.8'), 'disabled');
      assert.match(disabled.message, /disabled/);
      failed(await authenticator.login('dora', 'wrong password', '192.0.2.8'), 'invalid');
      failed(await authenticator.login('acme+off', ROBOT_TOKEN, '192.0.2.8'), 'disabled');
      const rows = (await auditRows(audit, ['login_failure'])).filter((r) => r.clientAddress === '192.0.2.8');
      assert.deepEqual(rows.map((r) => r.metadata.reason), ['disabled', 'invalid', 'disabled']);
    });

    it('logs robots in with their token', async () => {
      const robot = await accounts.accounts.getAccount('acme+ci');
      assert.ok(robot);
      const identity = succeeded(await authenticator.login('acme+ci', ROBOT_TOKEN, '192.0.2.9'));
      assert.deepEqual(identity, { kind: 'robot', id: robot.id, name: 'acme+ci', ownerId: acme.id, ownerName: 'acme' });
      failed(await authenticator.login('acme+ci', `${ROBOT_TOKEN}x`, '192.0.2.9'), 'invalid');
      failed(await authenticator.login('acme+nope', ROBOT_TOKEN, '192.0.2.9'), 'invalid');
      failed(await authenticator.login('acme+ci+x', ROBOT_TOKEN, '192.0.2.9'), 'invalid');
      failed(await authenticator.login('+ci', ROBOT_TOKEN, '192.0.2.9'), 'invalid');
      const success = (await auditRows(audit, ['login_success'])).find((r) => r.clientAddress === '192.0.2.9');
      assert.equal(success?.namespace, 'acme');
      assert.deepEqual(success?.metadata, { type: 'robot', username: 'acme+ci', robot: 'acme+ci' });
      assert.deepEqual(success?.performer, { id: robot.id, name: 'acme+ci', kind: 'robot' });
    });

    it('logs users in with app-specific tokens, as $app or as themselves', async () => {
      const expected = { kind: 'user', id: alice.id, name: 'alice', superuser: false, appTokenId };
      assert.deepEqual(succeeded(await authenticator.login('$app', APP_TOKEN, '192.0.2.10')), expected);
      assert.deepEqual(succeeded(await authenticator.login('alice', APP_TOKEN, '192.0.2.10')), expected);
      assert.deepEqual(succeeded(await authenticator.loginWithAppToken(APP_TOKEN, '192.0.2.10')), expected);
      failed(await authenticator.login('bob', APP_TOKEN, '192.0.2.11'), 'invalid');
      failed(await authenticator.login('$app', EXPIRED_APP_TOKEN, '192.0.2.11'), 'invalid');
      failed(await authenticator.loginWithAppToken('nope', '192.0.2.11'), 'invalid');
      failed(await build({ appSpecificTokens: false }).login('$app', APP_TOKEN, '192.0.2.11'), 'invalid');
      failed(await build({ appSpecificTokens: false }).login('alice', APP_TOKEN, '192.0.2.11'), 'invalid');
      const rows = (await auditRows(audit, ['login_success'])).filter((r) => r.clientAddress === '192.0.2.10');
      assert.equal(rows.length, 3);
      assert.deepEqual(rows[0]?.metadata, { type: 'app_token', username: '$app', appTokenId, appTokenTitle: 'laptop' });
      assert.equal(rows[0]?.namespace, 'alice');
      // The use is recorded (best effort, in the background).
      const lastUsed = await waitUntil('the app token use recorded', async () => (await accounts.appTokens.list(alice.id)).find((t) => t.id === appTokenId)?.lastUsedAt ?? undefined);
      assert.ok(lastUsed instanceof Date);
    });

    it('throttles an account after repeated failures, audits and logs it, and resets on success', async () => {
      const strict = build({ freeAttempts: 3 });
      const address = '198.51.100.1';
      for (let i = 0; i < 3; i++) failed(await strict.login('carol', `wrong ${i}`, address), 'invalid');
      const throttled = failed(await strict.login('carol', PASSWORD, address), 'throttled');
      assert.equal(throttled.retryAfterS, 1);
      assert.match(throttled.message, /retry in 1 seconds/);
      // The account is throttled from any address; the address for any account.
      failed(await strict.login('carol', PASSWORD, '198.51.100.2'), 'throttled');
      failed(await strict.login('alice', PASSWORD, address), 'throttled');
      const rows = (await auditRows(audit, ['login_failure'])).filter((r) => r.metadata.username === 'carol');
      assert.deepEqual(rows.map((r) => r.metadata.reason), ['invalid', 'invalid', 'invalid', 'throttled', 'throttled']);
      assert.deepEqual(rows.map((r) => r.clientAddress), [address, address, address, address, '198.51.100.2']);
      const warning = log.lines.find((line) => line.level === 'warn' && line.details.username === 'carol');
      assert.ok(warning, 'a warn line was logged');
      assert.equal(warning.details.clientAddress, address);

      clock.now += 1_000;
      succeeded(await strict.login('carol', PASSWORD, '198.51.100.2'));
      assert.equal(await accounts.throttle.get('account:carol'), undefined, 'the account key is reset');
      assert.equal((await accounts.throttle.get(`address:${address}`))?.failures, 3, 'the address keeps its count');
      // One more failure from the address brings it back under the delay (4 failures: 2 s).
      failed(await strict.login('carol', 'wrong again', address), 'invalid');
      // A right password this instance has not seen verify is still held back (its own salt: a hash of its own).
      await createUser(accounts, 'gina', await hashPassword(PASSWORD));
      const again = failed(await strict.login('gina', PASSWORD, address), 'throttled');
      assert.equal(again.retryAfterS, 2);
      // carol's password verified on this instance a moment ago: presenting it again is no guess, and no
      // one's failures from the address lock her out.
      succeeded(await strict.login('carol', PASSWORD, address));
    });

    it('checks a burst of the same credentials once: none refused by the throttle, each audited', async () => {
      const strict = build({ freeAttempts: 3 });
      const address = '198.51.100.7';
      const before = (await auditRows(audit, ['login_success'])).filter((r) => r.clientAddress === address).length;
      const results = await Promise.all(Array.from({ length: 40 }, () => strict.login('bob', PASSWORD, address)));
      for (const result of results) succeeded(result);
      const rows = await waitUntil('40 login_success rows', async () => {
        const found = (await auditRows(audit, ['login_success'])).filter((r) => r.clientAddress === address);
        return found.length - before === 40 ? found : undefined;
      });
      assert.equal(rows.length - before, 40);
      const state = await accounts.throttle.get(`address:${address}`);
      assert.ok(state === undefined || state.failures === 0, `no attempt was left counted: ${JSON.stringify(state)}`);
    });

    it('remembers verified passwords by their hash: a changed password misses at once', async () => {
      const cached = build({ freeAttempts: 3 });
      const address = '198.51.100.8';
      const erin = await createUser(accounts, 'erin', await hashPassword(PASSWORD));
      succeeded(await cached.login('erin', PASSWORD, address));
      // Another instance (or the CLI) changes the password: this instance's memory of the old one is void.
      await accounts.accounts.setPasswordHash(erin.id, await hashPassword('a brand new password'));
      failed(await cached.login('erin', PASSWORD, address), 'invalid');
      succeeded(await cached.login('erin', 'a brand new password', address));
      // A parallel burst of wrong passwords is still evaluated under the throttle, the memory notwithstanding.
      const wrong = await Promise.all(Array.from({ length: 10 }, (_, i) => cached.login('erin', `wrong ${i}`, address)));
      assert.ok(wrong.some((result) => !result.ok && result.reason === 'throttled'), 'some parallel wrong passwords are throttled');
      assert.ok(wrong.every((result) => !result.ok));
    });
  });
}
