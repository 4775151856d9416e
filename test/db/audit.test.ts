import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AccountMetadata, AuditEvent, AuditRecord } from '../../src/db/account-metadata.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const T0 = 1_700_000_000_000;

/** 450 events (more than two insert chunks): kinds, performers and repositories cycle so every filter has matches. */
function events(): AuditEvent[] {
  return Array.from({ length: 450 }, (_, i): AuditEvent => ({
    kind: ['push_repo', 'pull_repo', 'login_success'][i % 3]!,
    performer: i % 5 === 0 ? null : i % 5 === 1 ? { name: '(anonymous)', kind: 'anonymous' } : { id: 1 + (i % 2), name: i % 2 ? 'bob' : 'alice', kind: 'user' },
    namespace: i % 4 === 0 ? null : i % 4 === 1 ? 'acme' : 'beta',
    repository: i % 4 === 0 ? null : i % 4 === 1 ? 'acme/app' : `beta/r${i % 3}`,
    at: new Date(T0 + i * 1000),
    clientAddress: i % 2 ? '203.0.113.9' : null,
    metadata: { i, tag: `v${i}`, nested: { ok: true } },
  }));
}

for (const dialect of ALL_DIALECTS) {
  describe(`audit log on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let accounts: AccountMetadata;
    const written = events();
    before(async () => {
      fresh = await freshDatabase(dialect);
      accounts = createAccountMetadata(fresh.database);
      await accounts.audit.append([]);
      await accounts.audit.append(written);
    });
    after(() => fresh.drop());

    /** The event a record was written from (metadata.i is its index). */
    const source = (r: AuditRecord): AuditEvent => written[Number(r.metadata.i)]!;

    it('returns every field as written, newest first', async () => {
      const page = await accounts.audit.query({}, { limit: 1000 });
      assert.equal(page.length, 450);
      assert.deepEqual(page.map((r) => r.metadata.i), written.map((_, i) => i).reverse());
      for (const r of page) {
        const { id, ...rest } = r;
        assert.equal(typeof id, 'number');
        assert.deepEqual(rest, source(r));
      }
      const ids = page.map((r) => r.id);
      assert.deepEqual(ids, [...ids].sort((a, b) => b - a));
    });

    it('combines filters with AND', async () => {
      const expect = (predicate: (e: AuditEvent) => boolean) => written.filter(predicate).map((e) => e.metadata.i).reverse();
      const got = async (filter: Parameters<typeof accounts.audit.query>[0]) =>
        (await accounts.audit.query(filter, { limit: 1000 })).map((r) => r.metadata.i);
      assert.deepEqual(await got({ namespace: 'acme' }), expect((e) => e.namespace === 'acme'));
      assert.deepEqual(await got({ repository: 'beta/r1' }), expect((e) => e.repository === 'beta/r1'));
      assert.deepEqual(await got({ performer: 'bob' }), expect((e) => e.performer?.name === 'bob'));
      assert.deepEqual(await got({ kinds: ['push_repo', 'login_success'] }), expect((e) => e.kind !== 'pull_repo'));
      assert.deepEqual(await got({ kinds: [] }), []);
      const since = new Date(T0 + 100_000);
      const until = new Date(T0 + 200_000);
      assert.deepEqual(
        await got({ since, until }),
        expect((e) => e.at >= since && e.at < until),
      );
      const both = await got({ namespace: 'beta', performer: 'alice', kinds: ['push_repo'], since });
      assert.ok(both.length > 0);
      assert.deepEqual(
        both,
        expect((e) => e.namespace === 'beta' && e.performer?.name === 'alice' && e.kind === 'push_repo' && e.at >= since),
      );
      assert.deepEqual(await got({ namespace: 'acme', repository: 'beta/r1' }), []);
    });

    it('pages with before and limit without gaps or repeats', async () => {
      const filter = { namespace: 'beta' };
      const all = await accounts.audit.query(filter, { limit: 1000 });
      const paged: AuditRecord[] = [];
      let before: number | undefined;
      for (;;) {
        const page = await accounts.audit.query(filter, { limit: 17, ...(before === undefined ? {} : { before }) });
        assert.ok(page.length <= 17);
        if (page.length === 0) break;
        paged.push(...page);
        before = page[page.length - 1]!.id;
      }
      assert.deepEqual(paged, all);
      assert.deepEqual(await accounts.audit.query({}, { limit: 0 }), []);
    });
  });
}
