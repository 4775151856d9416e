// The superuser panel in a real browser against a real `quayside serve` (e2e is in SUPER_USERS, two storage
// locations, one of them broken): create a user (a bad name refused in words, the generated password shown
// once and working), disable and enable it (also from the keyboard alone), page through the users and delete one; page the organizations
// and delete one (one with a repository refused in words at its row); page the whole usage log; the status
// page's health, "Validate storage" (the good location passes and gets its _verify marker, the broken one
// is named with its reason) and service keys. A user who is not a superuser sees no panel, and the server
// refuses its API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { E2E_USER, REPO_ROOT } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';
import { apiWithSession, signInOnPage, startAdminServer, type AdminServer } from './admin-server.js';
import { launchBrowser, type TestBrowser } from './browser.js';

const SCREENSHOTS = join(REPO_ROOT, '.tmp', 'web-screenshots');

/** Whether POST /api/v1/signin accepts the password (a fresh request, no cookie). */
async function passwordWorks(url: string, username: string, password: string): Promise<number> {
  const response = await fetch(`${url}/api/v1/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  return response.status;
}

describe('the superuser panel in Chromium', () => {
  let admin: AdminServer;
  let chromium: TestBrowser;
  let page: Page;
  let bobPassword = '';
  const pageErrors: string[] = [];

  before(async () => {
    admin = await startAdminServer();
    chromium = await launchBrowser(admin.server.url);
    page = await chromium.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await mkdir(SCREENSHOTS, { recursive: true });
    await signInOnPage(page, E2E_USER);
  });

  after(async () => {
    await chromium?.close();
    await admin?.stop();
  });

  const shoot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const call = (method: string, path: string, body?: unknown) => apiWithSession(admin.server, chromium.context, method, path, body);
  const usersTable = () => page.getByRole('table', { name: 'Users' });

  test('a superuser creates a user: a bad name is refused in words, the password is shown once and works', async () => {
    await page.getByRole('link', { name: 'Superuser' }).click();
    await page.getByRole('heading', { name: 'Superuser panel' }).waitFor();
    await page.getByLabel('New username').fill('Bad Name!');
    await page.getByRole('button', { name: 'Create user' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /name/i);

    await page.getByLabel('New username').fill('bob');
    await page.getByLabel('E-mail (optional)').fill('bob@example.com');
    await page.getByRole('button', { name: 'Create user' }).click();
    const password = page.getByLabel('password of bob', { exact: true });
    await password.waitFor();
    bobPassword = await password.inputValue();
    assert.equal(await passwordWorks(admin.server.url, 'bob', bobPassword), 200, 'the shown password signs bob in');
    await usersTable().getByRole('rowheader', { name: 'bob' }).waitFor();
    // The superuser's own row offers nothing: the server refuses to disable or delete a superuser.
    assert.equal(await page.getByRole('button', { name: `Delete user ${E2E_USER.username}` }).count(), 0);
    await shoot('superuser-users');
  });

  test('disabling a user refuses its sign-in; enabling it lets it back in', async () => {
    await page.getByRole('button', { name: 'Disable user bob' }).click();
    await page.getByRole('button', { name: 'Enable user bob' }).waitFor();
    assert.match(await usersTable().getByRole('row', { name: /bob/ }).innerText(), /disabled/);
    assert.equal(await passwordWorks(admin.server.url, 'bob', bobPassword), 403);
    await page.getByRole('button', { name: 'Enable user bob' }).click();
    await page.getByRole('button', { name: 'Disable user bob' }).waitFor();
    assert.equal(await passwordWorks(admin.server.url, 'bob', bobPassword), 200);
  });

  test('the users are paged 20 at a time; a deleted user is gone', async () => {
    for (let n = 0; n < 20; n += 1) {
      const made = await call('POST', '/superuser/users/', { username: `user-${String(n).padStart(2, '0')}` });
      assert.equal(made.status, 200, JSON.stringify(made.json));
    }
    await page.reload();
    await usersTable().waitFor();
    // bob, e2e and 20 others: 22 users, in name order, 20 on the first page.
    assert.equal(await usersTable().locator('tbody tr').count(), 20);
    const pager = page.getByRole('navigation', { name: 'Pages of users' });
    await pager.getByRole('button', { name: 'Next page' }).click();
    await pager.getByText('Page 2').waitFor();
    // "Page 2" shows as soon as the page is asked for; its rows come with the answer.
    await usersTable().getByRole('rowheader', { name: 'user-18' }).waitFor();
    assert.equal(await usersTable().locator('tbody tr').count(), 2);
    assert.deepEqual(await usersTable().getByRole('rowheader').allInnerTexts(), ['user-18', 'user-19']);
    await pager.getByRole('button', { name: 'Previous page' }).click();
    await pager.getByText('Page 1').waitFor();
    await page.getByRole('button', { name: 'Delete user user-00' }).click();
    await page.getByRole('button', { name: 'Delete user-00', exact: true }).click();
    await usersTable().getByRole('rowheader', { name: 'user-00', exact: true }).waitFor({ state: 'detached' });
    assert.equal((await call('PUT', '/superuser/users/user-00', { enabled: true })).status, 404, 'the server agrees it is gone');
  });

  test('the users tab works from the keyboard alone: create a user, then disable and enable it', async () => {
    await page.getByLabel('New username').focus();
    await page.keyboard.type('kbd-user');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'new-user-email');
    await page.keyboard.press('Enter');
    await page.getByLabel('password of kbd-user', { exact: true }).waitFor();
    const disable = page.getByRole('button', { name: 'Disable user kbd-user' });
    await disable.focus();
    await page.keyboard.press('Enter');
    const enable = page.getByRole('button', { name: 'Enable user kbd-user' });
    await enable.waitFor();
    await enable.focus();
    await page.keyboard.press('Space');
    await disable.waitFor();
    const view = (await call('GET', '/superuser/users/?limit=100')).json as { users: Array<{ username: string; enabled: boolean }> };
    assert.equal(view.users.find((user) => user.username === 'kbd-user')?.enabled, true);
    assert.equal((await call('DELETE', '/superuser/users/kbd-user')).status, 204);
    await page.reload();
    await usersTable().waitFor();
  });

  test('organizations are listed and deleted; one with a repository is refused in words at its row', async () => {
    for (const name of ['acme', 'empty-org']) assert.equal((await call('POST', '/organization/', { name })).status, 201);
    assert.equal((await call('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' })).status, 201);
    await page.getByRole('link', { name: 'Organizations', exact: true }).first().waitFor();
    await page.getByRole('navigation', { name: 'Superuser panel' }).getByRole('link', { name: 'Organizations' }).click();
    const table = page.getByRole('table', { name: 'Organizations' });
    await table.getByRole('rowheader', { name: 'empty-org' }).waitFor();
    await page.getByRole('button', { name: 'Delete organization empty-org' }).click();
    await page.getByRole('button', { name: 'Delete empty-org', exact: true }).click();
    await table.getByRole('rowheader', { name: 'empty-org' }).waitFor({ state: 'detached' });
    assert.equal((await call('GET', '/organization/empty-org')).status, 404);

    await page.getByRole('button', { name: 'Delete organization acme' }).click();
    await page.getByRole('button', { name: 'Delete acme', exact: true }).click();
    const refusal = table.getByRole('row', { name: /acme/ }).getByRole('alert');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /repositor/i);
    await shoot('superuser-organizations');
  });

  test('the whole usage log is paged and names who did what', async () => {
    await page.getByRole('navigation', { name: 'Superuser panel' }).getByRole('link', { name: 'Usage log' }).click();
    const table = page.getByRole('table', { name: 'Usage log' });
    await table.waitFor();
    const first = await table.innerText();
    assert.match(first, /org_delete/);
    assert.match(first, /user_delete/);
    assert.equal(await table.locator('tbody tr').count(), 20, 'more than 20 entries were logged: a full first page');
    const pager = page.getByRole('navigation', { name: 'Pages of the usage log' });
    await pager.getByRole('button', { name: 'Next page' }).click();
    await pager.getByText('Page 2').waitFor();
    // The pager moves before the rows arrive: wait for the rows. The oldest entries (bob's creation, the first
    // sign-in) are further back.
    const second = await waitUntil('the second page of the log', async () => {
      const text = await table.innerText();
      return text !== first ? text : undefined;
    });
    assert.match(second, /user_create/);
    await shoot('superuser-logs');
  });

  test("the status page shows this instance's health, validates every storage location and lists the service keys", async () => {
    await page.getByRole('navigation', { name: 'Superuser panel' }).getByRole('link', { name: 'Status' }).click();
    await page.getByRole('heading', { name: /Instance: healthy/ }).waitFor();
    assert.match(await page.getByRole('table', { name: 'Instance', exact: true }).innerText(), /database\s+up/);
    await page.getByRole('heading', { name: /End to end:/ }).waitFor();
    const storage = page.getByRole('table', { name: 'Storage locations' });
    await storage.getByRole('rowheader', { name: /broken/ }).waitFor();
    await page.getByRole('button', { name: 'Validate storage' }).click();
    const verdict = page.getByRole('status').filter({ hasText: 'Validation failed' });
    await verdict.waitFor();
    assert.match(await verdict.innerText(), /broken: LocalStorage directory .* is not writable/);
    assert.match(await storage.getByRole('row', { name: /good/ }).innerText(), /\bok\b/);
    assert.match(await storage.getByRole('row', { name: /broken/ }).innerText(), /failed: .*not a directory/);
    assert.equal(await readFile(join(admin.goodDir, '_verify'), 'utf8'), 'testing 123');
    const keys = page.getByRole('table', { name: 'Service keys' });
    await keys.waitFor();
    assert.ok((await keys.locator('tbody tr').count()) >= 1, 'the instance published its signing key');
    await shoot('superuser-status');
  });

  test('a user who is not a superuser sees no panel, and the server refuses its API', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/signin/);
    await signInOnPage(page, { username: 'bob', password: bobPassword });
    assert.equal(await page.getByRole('link', { name: 'Superuser' }).count(), 0);
    await page.goto('/superuser/users');
    await page.getByText('This page is for superusers only.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create user' }).count(), 0);
    for (const path of ['/superuser/users/', '/superuser/organizations/', '/superuser/logs', '/superuser/keys', '/superuser/storage']) {
      assert.equal((await call('GET', path)).status, 403, path);
    }
    assert.equal((await call('POST', '/superuser/config/validate/registry-storage', {})).status, 403);
    assert.deepEqual(pageErrors, []);
  });
});
