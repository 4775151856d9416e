import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';
import { DIALECTS, firstError, putManifest, seededImage } from './manifest-fixtures.js';

interface TagList {
  name: string;
  tags: string[];
}

/** Parses `<url>; rel="next"` into the URL path and query. */
function nextLink(header: string | null): string | undefined {
  if (header === null) return undefined;
  const match = /^<([^>]+)>;\s*rel="next"$/.exec(header);
  assert.ok(match, `malformed Link header: ${header}`);
  return match[1];
}

for (const dialect of DIALECTS) {
  describe(`tag listing on ${dialect}`, () => {
    let reg: TestRegistry;
    // Deliberately pushed out of order; listing is lexical.
    const tags = ['v2', 'latest', 'v1', 'a', 'v10', 'B', 'z_last', 'v1.0-rc1'];
    const sorted = [...tags].sort();

    before(async () => {
      reg = await startTestRegistry({ dialect });
      const image = await seededImage(reg.metadata, 'team/tools/app');
      for (const tag of tags) {
        const res = await putManifest(reg.url, 'team/tools/app', tag, image.bytes);
        assert.equal(res.status, 201);
      }
    });
    after(async () => {
      await reg?.close();
    });

    it('lists every current tag in lexical order', async () => {
      const res = await fetch(`${reg.url}/v2/team/tools/app/tags/list`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('link'), null);
      assert.deepEqual((await res.json()) as TagList, { name: 'team/tools/app', tags: sorted });
    });

    it('pages with n and last, linking to the next page until the end', async () => {
      const seen: string[] = [];
      let path: string | undefined = '/v2/team/tools/app/tags/list?n=3';
      let pages = 0;
      while (path !== undefined) {
        const res: Response = await fetch(`${reg.url}${path}`);
        assert.equal(res.status, 200);
        const body = (await res.json()) as TagList;
        assert.ok(body.tags.length <= 3);
        seen.push(...body.tags);
        path = nextLink(res.headers.get('link'));
        if (path !== undefined) assert.match(path, /^\/v2\/team\/tools\/app\/tags\/list\?n=3&last=/);
        pages += 1;
        assert.ok(pages < 10, 'pagination does not end');
      }
      assert.deepEqual(seen, sorted);
      assert.equal(pages, 3);
    });

    it('starts after last, and answers an empty list past the end', async () => {
      const res = await fetch(`${reg.url}/v2/team/tools/app/tags/list?last=v1`);
      assert.deepEqual(((await res.json()) as TagList).tags, sorted.filter((t) => t > 'v1'));
      const end = await fetch(`${reg.url}/v2/team/tools/app/tags/list?n=5&last=zzz`);
      assert.equal(end.status, 200);
      assert.equal(end.headers.get('link'), null);
      assert.deepEqual(((await end.json()) as TagList).tags, []);
    });

    it('answers n=0 with an empty list and an exact page with no Link', async () => {
      const zero = await fetch(`${reg.url}/v2/team/tools/app/tags/list?n=0`);
      assert.equal(zero.status, 200);
      assert.deepEqual(((await zero.json()) as TagList).tags, []);
      const exact = await fetch(`${reg.url}/v2/team/tools/app/tags/list?n=${tags.length}`);
      assert.equal(exact.headers.get('link'), null);
      assert.deepEqual(((await exact.json()) as TagList).tags, sorted);
    });

    it('refuses a malformed n', async () => {
      for (const n of ['-1', 'abc', '1.5', '', '1e3', '99999999999999999999']) {
        const res = await fetch(`${reg.url}/v2/team/tools/app/tags/list?n=${encodeURIComponent(n)}`);
        assert.equal(res.status, 400, `n=${n}`);
        assert.equal((await firstError(res)).code, 'PAGINATION_NUMBER_INVALID');
      }
    });

    it('answers NAME_UNKNOWN for an unknown repository and [] for one without tags', async () => {
      const unknown = await fetch(`${reg.url}/v2/team/nothing/tags/list`);
      assert.equal(unknown.status, 404);
      assert.equal((await firstError(unknown)).code, 'NAME_UNKNOWN');

      await reg.metadata.repositories.ensureRepository('team/untagged');
      const empty = await fetch(`${reg.url}/v2/team/untagged/tags/list`);
      assert.equal(empty.status, 200);
      assert.deepEqual((await empty.json()) as TagList, { name: 'team/untagged', tags: [] });
    });

    it('drops a deleted tag from the list', async () => {
      const image = await seededImage(reg.metadata, 'team/deleting');
      for (const tag of ['keep', 'drop']) assert.equal((await putManifest(reg.url, 'team/deleting', tag, image.bytes)).status, 201);
      assert.equal((await fetch(`${reg.url}/v2/team/deleting/manifests/drop`, { method: 'DELETE' })).status, 202);
      const res = await fetch(`${reg.url}/v2/team/deleting/tags/list`);
      assert.deepEqual(((await res.json()) as TagList).tags, ['keep']);
    });
  });
}
