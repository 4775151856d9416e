// Long lists are paged in the browser as the API pages them: the repositories 100 at a time (Quay's
// next_page cursor, "More repositories" appends), a repository's tags and its tag history 50 a page (Quay's
// page / has_additional, previous and next). The superuser's users and usage log pages are covered by
// superuser-flows.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { E2E_USER, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { apiWithSession, signInOnPage } from './admin-server.js';
import { launchBrowser, type TestBrowser } from './browser.js';
import { pushSampleImages } from './seed.js';

const EXTRA_REPOSITORIES = 101;
const EXTRA_TAGS = 55;

describe('paged lists in Chromium', () => {
  let server: RegistryServer;
  let work: string;
  let chromium: TestBrowser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'quayside-web-paging-'));
    server = await startQuayside({ user: E2E_USER });
    await pushSampleImages(server, E2E_USER, work);
    chromium = await launchBrowser(server.url);
    page = await chromium.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await signInOnPage(page, E2E_USER);
    const call = (method: string, path: string, body?: unknown) => apiWithSession(server, chromium.context, method, path, body);
    for (let n = 0; n < EXTRA_REPOSITORIES; n += 1) {
      const made = await call('POST', '/repository', { namespace: 'e2e', repository: `r${String(n).padStart(3, '0')}`, visibility: 'private', description: '' });
      assert.equal(made.status, 201, JSON.stringify(made.json));
    }
    const tags = (await call('GET', '/repository/e2e/app/tag/?specificTag=v1')).json as { tags: Array<{ manifest_digest: string }> };
    const digest = tags.tags[0]!.manifest_digest;
    for (let n = 0; n < EXTRA_TAGS; n += 1) {
      const moved = await call('PUT', `/repository/e2e/app/tag/t${String(n).padStart(2, '0')}`, { manifest_digest: digest });
      assert.equal(moved.status, 201, JSON.stringify(moved.json));
    }
  });

  after(async () => {
    await chromium?.close();
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the repositories come 100 at a time; "More repositories" brings the rest', async () => {
    await page.goto('/');
    const rows = page.getByRole('table', { name: 'Repositories' }).locator('tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 100);
    await page.getByRole('button', { name: 'More repositories' }).click();
    // e2e/app, e2e/multi and the 101 made here.
    await page.waitForFunction((n) => document.querySelectorAll('table tbody tr').length === n, EXTRA_REPOSITORIES + 2);
    assert.equal(await page.getByRole('button', { name: 'More repositories' }).count(), 0, 'nothing more to load');
  });

  test("a repository's tags come 50 a page, with previous and next", async () => {
    await page.goto('/repository/e2e/app');
    const table = page.getByRole('table', { name: 'Tags of e2e/app' });
    await table.waitFor();
    assert.equal(await table.locator('tbody tr').count(), 50);
    const pager = page.getByRole('navigation', { name: 'Pages' });
    assert.equal(await pager.getByRole('button', { name: 'Previous page' }).isDisabled(), true);
    await pager.getByRole('button', { name: 'Next page' }).click();
    await pager.getByText('Page 2').waitFor();
    // v1, stable and the 55 made here: 57, so 7 on the second page, and no third.
    await page.waitForFunction(() => document.querySelectorAll('table tbody tr').length === 7);
    assert.equal(await pager.getByRole('button', { name: 'Next page' }).isDisabled(), true);
    await pager.getByRole('button', { name: 'Previous page' }).click();
    await pager.getByText('Page 1').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('table tbody tr').length === 50);
  });

  test('the tag history is paged too', async () => {
    await page.goto('/repository/e2e/app?tab=history');
    const pager = page.getByRole('navigation', { name: 'Pages' });
    await pager.waitFor();
    await pager.getByRole('button', { name: 'Next page' }).click();
    await pager.getByText('Page 2').waitFor();
    assert.ok((await page.locator('table tbody tr').count()) >= 1);
    assert.deepEqual(pageErrors, []);
  });
});
