import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

for (const dialect of ALL_DIALECTS) {
  describe(`repositories on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let metadata: Metadata;
    const clock = 1_700_000_000_123;
    before(async () => {
      fresh = await freshDatabase(dialect);
      metadata = createMetadata(fresh.database, { now: () => clock });
    });
    after(() => fresh.drop());

    it('answers ping', async () => {
      await metadata.ping();
    });

    it('creates a private repository with its namespace, once', async () => {
      assert.equal(await metadata.repositories.getRepository('acme/tools/app'), undefined);
      const created = await metadata.repositories.ensureRepository('acme/tools/app');
      assert.equal(created.name, 'acme/tools/app');
      assert.equal(created.namespace, 'acme');
      assert.equal(created.visibility, 'private');
      assert.deepEqual(created.createdAt, new Date(clock));
      assert.equal(typeof created.id, 'number');
      assert.deepEqual(await metadata.repositories.ensureRepository('acme/tools/app'), created);
      assert.deepEqual(await metadata.repositories.getRepository('acme/tools/app'), created);
    });

    it('keeps a description: null until set, long multi-byte text intact, cleared with null', async () => {
      const repository = await metadata.repositories.ensureRepository('acme/described');
      assert.equal(repository.description, null);
      assert.equal((await metadata.repositories.createRepository('acme/described-too', 'public')).repository.description, null);
      const markdown = '# Title\n\nÜber *alles* — 日本語 🚢\n';
      await metadata.repositories.setDescription(repository.id, markdown);
      assert.equal((await metadata.repositories.getRepository('acme/described'))?.description, markdown);
      assert.deepEqual(await metadata.repositories.getRepositoryById(repository.id), { ...repository, description: markdown });
      assert.equal((await metadata.repositories.getRepository('acme/described-too'))?.description, null, 'only that repository changed');
      // At the API's limit (64 Ki UTF-16 code units) in 4-byte characters: 128 KiB, past MySQL's text type.
      const longest = '🚢'.repeat(32 * 1024);
      await metadata.repositories.setDescription(repository.id, longest);
      assert.equal((await metadata.repositories.getRepositoryById(repository.id))?.description, longest);
      await metadata.repositories.setDescription(repository.id, '');
      assert.equal((await metadata.repositories.getRepository('acme/described'))?.description, '');
      await metadata.repositories.setDescription(repository.id, null);
      assert.equal((await metadata.repositories.getRepository('acme/described'))?.description, null);
    });

    it('gives single-component names an empty namespace', async () => {
      assert.equal((await metadata.repositories.ensureRepository('solo')).namespace, '');
    });

    it('treats names case-sensitively', async () => {
      const lower = await metadata.repositories.ensureRepository('case/name');
      const upper = await metadata.repositories.ensureRepository('Case/Name');
      assert.notEqual(lower.id, upper.id);
      assert.equal(await metadata.repositories.getRepository('CASE/NAME'), undefined);
    });

    it('gives concurrent creators of one name the same row', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, () => metadata.repositories.ensureRepository('race/repo')),
      );
      assert.equal(new Set(results.map((r) => r.id)).size, 1);
    });

    it('lists names in byte order, paginated with last and limit', async () => {
      for (const name of ['zeta', 'a-b', 'a_b', 'a/b', 'a.b', 'B', 'a']) {
        await metadata.repositories.ensureRepository(name);
      }
      const all = await metadata.repositories.listRepositories({ limit: 1000 });
      const expected = [...all].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      assert.deepEqual(all, expected);
      assert.ok(all.includes('zeta') && all.includes('race/repo') && all.includes('Case/Name'));
      assert.equal(new Set(all).size, all.length);
      const pages: string[] = [];
      let last: string | undefined;
      for (;;) {
        const page = await metadata.repositories.listRepositories({ limit: 3, ...(last === undefined ? {} : { last }) });
        assert.ok(page.length <= 3);
        if (page.length === 0) break;
        pages.push(...page);
        last = page[page.length - 1];
      }
      assert.deepEqual(pages, all);
      assert.deepEqual(await metadata.repositories.listRepositories({ last: 'zeta', limit: 10 }), []);
      assert.deepEqual(await metadata.repositories.listRepositories({ last: 'a', limit: 2 }), all.slice(all.indexOf('a') + 1, all.indexOf('a') + 3));
    });
  });
}
