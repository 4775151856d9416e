// Issue 9 "Nothing lost": change rows are in the database once durable() resolves, without a flush or a
// timer; only pull rows wait in memory. On the real audit_log table of every dialect.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuditLog, type AuditInput } from '../../src/audit/audit-log.js';
import type { AccountMetadata, AuditStore } from '../../src/db/account-metadata.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const event = (kind: string, repository: string): AuditInput => ({
  kind,
  performer: { name: 'alice', kind: 'user' },
  namespace: 'acme',
  repository,
  clientAddress: null,
  metadata: {},
});

for (const dialect of ALL_DIALECTS) {
  describe(`audit durability on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let accounts: AccountMetadata;
    // A flush interval no test waits for: only durable() or flush() can have written a row.
    let audit: AuditLog;
    const errors: string[] = [];
    before(async () => {
      fresh = await freshDatabase(dialect);
      accounts = createAccountMetadata(fresh.database);
      audit = new AuditLog(accounts.audit, { error: (_details, message) => errors.push(message) }, { flushIntervalMs: 3_600_000 });
    });
    after(async () => {
      await audit?.close();
      await fresh?.drop();
    });
    const stored = async (repository: string) => (await accounts.audit.query({ repository }, { limit: 1000 })).map((row) => row.kind);

    it('writes change rows before durable() resolves, in one INSERT per round trip for a burst', async () => {
      for (let i = 0; i < 50; i++) audit.record(event(i % 2 ? 'push_repo' : 'delete_tag', 'acme/changes'));
      await audit.durable();
      assert.equal((await stored('acme/changes')).length, 50);
    });

    it('keeps pull rows batched until the interval or the next change', async () => {
      audit.record(event('pull_repo', 'acme/pulls'));
      await audit.durable();
      assert.deepEqual(await stored('acme/pulls'), [], 'a pull waits in memory');
      audit.record(event('push_repo', 'acme/pulls'));
      await audit.durable();
      assert.deepEqual((await stored('acme/pulls')).sort(), ['pull_repo', 'push_repo'], 'the next change takes it along');
    });

    it('resolves durable() when the database refuses, keeps the row queued, and writes it later', async () => {
      let refuse = true;
      const flaky: AuditStore = {
        append: (events) => (refuse ? Promise.reject(new Error('database down')) : accounts.audit.append(events)),
        query: (filter, page) => accounts.audit.query(filter, page),
      };
      const log = new AuditLog(flaky, { error: (_details, message) => errors.push(message) }, { flushIntervalMs: 3_600_000 });
      log.record(event('create_robot', 'acme/flaky'));
      await log.durable();
      assert.deepEqual(await stored('acme/flaky'), []);
      assert.ok(errors.some((message) => message.includes('could not write')), errors.join('; '));
      refuse = false;
      await log.close();
      assert.deepEqual(await stored('acme/flaky'), ['create_robot']);
    });
  });
}
