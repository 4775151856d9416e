import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';
import { DIALECTS, firstError, putManifest, seededImage } from './manifest-fixtures.js';

interface Catalog {
  repositories: string[];
}

for (const dialect of DIALECTS) {
  describe(`catalog on ${dialect}`, () => {
    let reg: TestRegistry;
    const names = ['zeta', 'alpha/one', 'alpha', 'beta/x/y', 'alpha/two', 'gamma-ray', 'alpha_b'];
    const sorted = [...names].sort();

    before(async () => {
      reg = await startTestRegistry({ dialect });
      // One through a real push, the rest as repositories that exist without manifests.
      const image = await seededImage(reg.metadata, 'zeta');
      assert.equal((await putManifest(reg.url, 'zeta', 'v1', image.bytes)).status, 201);
      for (const name of names) await reg.metadata.repositories.ensureRepository(name);
    });
    after(async () => {
      await reg?.close();
    });

    it('lists every repository in lexical order', async () => {
      const res = await fetch(`${reg.url}/v2/_catalog`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
      assert.equal(res.headers.get('link'), null);
      assert.deepEqual((await res.json()) as Catalog, { repositories: sorted });
    });

    it('pages with n and last and a Link to the next page', async () => {
      const first = await fetch(`${reg.url}/v2/_catalog?n=4`);
      assert.deepEqual(((await first.json()) as Catalog).repositories, sorted.slice(0, 4));
      const link = first.headers.get('link');
      assert.equal(link, `</v2/_catalog?n=4&last=${encodeURIComponent(sorted[3] ?? '')}>; rel="next"`);

      const second = await fetch(`${reg.url}/v2/_catalog?n=4&last=${encodeURIComponent(sorted[3] ?? '')}`);
      assert.deepEqual(((await second.json()) as Catalog).repositories, sorted.slice(4));
      assert.equal(second.headers.get('link'), null);
    });

    it('answers n=0 with an empty list and refuses a malformed n', async () => {
      const zero = await fetch(`${reg.url}/v2/_catalog?n=0`);
      assert.deepEqual((await zero.json()) as Catalog, { repositories: [] });
      const bad = await fetch(`${reg.url}/v2/_catalog?n=-5`);
      assert.equal(bad.status, 400);
      assert.equal((await firstError(bad)).code, 'PAGINATION_NUMBER_INVALID');
    });

    it('refuses methods other than GET', async () => {
      const res = await fetch(`${reg.url}/v2/_catalog`, { method: 'DELETE' });
      assert.equal(res.status, 405);
      assert.equal((await firstError(res)).code, 'UNSUPPORTED');
    });
  });
}
