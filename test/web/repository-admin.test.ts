// A repository's admin pages in a real browser against a real `quayside serve`: permissions of users,
// robots and teams (listed, added, role changed, removed; an unknown user refused in words at the form),
// description and visibility, the usage log of all that, deletion behind a typed confirmation; a member
// with write access sees none of these tabs; the permissions tab works by keyboard and at phone width.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { E2E_USER, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { launchBrowser, type TestBrowser } from './browser.js';
import { call, elementsPastTheEdge, screenshotter, signIn } from './page-checks.js';

const BOB = { username: 'bob', password: 'bob-password-1' };

describe('repository permissions, settings and usage log in Chromium', () => {
  let server: RegistryServer;
  let chromium: TestBrowser;
  let page: Page;
  let shoot: (name: string) => Promise<void>;
  const pageErrors: string[] = [];

  before(async () => {
    server = await startQuayside({ user: E2E_USER });
    chromium = await launchBrowser(server.url);
    page = await chromium.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    shoot = await screenshotter(page, 'repository-admin');
    const made = await fetch(`${server.url}/api/v1/user/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: BOB.username, password: BOB.password, email: 'bob@example.com' }),
    });
    assert.ok(made.ok, await made.text());
    await signIn(page, E2E_USER);
    // The cast, over the API with the page's session: organization acme with team devs and robot acme+ci,
    // and the private repository acme/app.
    await call(page.request, 'POST', '/organization/', { name: 'acme' });
    await call(page.request, 'PUT', '/organization/acme/team/devs', { role: 'member' });
    await call(page.request, 'PUT', '/organization/acme/robots/ci', {});
    await call(page.request, 'POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
  });

  after(async () => {
    await chromium?.close();
    await server?.stop();
  });

  test('permissions: an unknown user is refused at the form; users, robots and teams are added, changed and removed', async () => {
    await page.goto('/repository/acme/app');
    await page.getByRole('link', { name: 'Permissions' }).click();
    await page.waitForURL(/tab=permissions/);
    await page.getByText('No one else has a permission on this repository.').waitFor();

    await page.getByLabel('User or robot name').fill('nobody-here');
    await page.getByRole('button', { name: 'Add permission' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /unknown user "nobody-here"/);

    await page.getByLabel('User or robot name').fill('bob');
    await page.getByRole('button', { name: 'Add permission' }).click();
    await page.getByRole('rowheader', { name: 'bob' }).waitFor();
    assert.equal(await page.getByRole('alert').count(), 0, 'the error is gone once an add succeeds');

    await page.getByLabel('User or robot name').fill('acme+ci');
    await page.getByLabel('Role to give').selectOption('write');
    await page.getByRole('button', { name: 'Add permission' }).click();
    const robotRow = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'acme+ci' }) });
    await robotRow.waitFor();
    assert.match(await robotRow.innerText(), /robot/);
    assert.equal(await robotRow.getByLabel('Role of acme+ci').inputValue(), 'write');

    await page.getByLabel('Kind').selectOption('team');
    await page.getByLabel('Team name').fill('devs');
    await page.getByRole('button', { name: 'Add permission' }).click();
    await page.getByRole('rowheader', { name: 'devs' }).waitFor();

    // A role changed in place is what the server then says.
    await page.getByLabel('Role of bob').selectOption('write');
    await page.waitForFunction(async () => {
      const answer = await fetch('/api/v1/repository/acme/app/permissions/user/bob').then((r) => r.json());
      return answer.role === 'write';
    });
    const users = await call(page.request, 'GET', '/repository/acme/app/permissions/user/');
    assert.deepEqual(Object.keys(users.permissions as object).sort(), ['acme+ci', 'bob']);
    const teams = await call(page.request, 'GET', '/repository/acme/app/permissions/team/');
    assert.deepEqual(teams.permissions, { devs: { role: 'read', name: 'devs' } });
    await shoot('permissions');

    await page.getByRole('button', { name: 'Remove the permission of devs' }).click();
    await page.getByRole('rowheader', { name: 'devs' }).waitFor({ state: 'detached' });
    assert.deepEqual((await call(page.request, 'GET', '/repository/acme/app/permissions/team/')).permissions, {});
  });

  test('the permission form works from the keyboard alone', async () => {
    await page.getByLabel('Kind').selectOption('user');
    await page.getByLabel('User or robot name').focus();
    await page.keyboard.type('e2e');
    await page.keyboard.press('Tab');
    // The role picker is next in tab order; arrow keys choose a role, as on any select.
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Role to give');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Add permission');
    await page.keyboard.press('Enter');
    const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'e2e', exact: true }) });
    await row.waitFor();
    assert.equal(await row.getByLabel('Role of e2e').inputValue(), 'write');
    await row.getByRole('button', { name: 'Remove the permission of e2e' }).focus();
    await page.keyboard.press('Enter');
    await row.waitFor({ state: 'detached' });
  });

  test('description and visibility: edited in settings, shown on the page, agreed by the server', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('textbox', { name: 'Description' }).fill('The acme application image');
    await page.getByRole('button', { name: 'Save description' }).click();
    await page.getByText('Description saved.').waitFor();
    await page.locator('p.description', { hasText: 'The acme application image' }).waitFor();

    assert.equal(await page.locator('.badge').innerText(), 'private');
    await page.getByRole('button', { name: 'Make public' }).click();
    await page.getByText('The repository is now public.').waitFor();
    // The badge follows once the page has read the repository again.
    await page.locator('.badge', { hasText: /^public$/ }).waitFor();
    const detail = await call(page.request, 'GET', '/repository/acme/app');
    assert.equal(detail.is_public, true);
    assert.equal(detail.description, 'The acme application image');
    // Public means pullable without signing in.
    assert.equal((await fetch(`${server.url}/api/v1/repository/acme/app`)).status, 200);
    await shoot('settings');
  });

  test('the usage log tells what was done, by whom, in words', async () => {
    await page.getByRole('link', { name: 'Usage log' }).click();
    await page.waitForURL(/tab=logs/);
    const log = page.getByRole('table', { name: 'Usage log of acme/app' });
    await log.waitFor();
    const text = await log.innerText();
    for (const line of [
      'Created repository acme/app',
      'Gave bob read on app',
      'Gave bob write on app',
      'Gave acme+ci write on app',
      'Gave team devs read on app',
      'Removed the permission of team devs on app',
      'Changed the description of app',
      'Made app public',
    ]) {
      assert.ok(text.includes(line), `the log says "${line}":\n${text}`);
    }
    assert.match(text, /\d{4}-\d\d-\d\d \d\d:\d\d\s+Made app public\s+e2e\s+127\.0\.0\.1/);
    await shoot('usage-log');
  });

  test('at phone width the permissions page fits the screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto('/repository/acme/app?tab=permissions');
    await page.getByRole('rowheader', { name: 'bob' }).waitFor();
    assert.deepEqual(await elementsPastTheEdge(page), [], 'nothing wider than the phone');
    await shoot('permissions-phone');
    await page.setViewportSize({ width: 1280, height: 720 });
  });

  test('a change that fails on the server is explained in words on its own row', async () => {
    // Another admin removes the robot's permission behind this page's back; removing it here then fails.
    const gone = await page.request.delete('/api/v1/repository/acme/app/permissions/user/acme+ci', { headers: { 'content-type': 'application/json' } });
    assert.equal(gone.status(), 204);
    const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'acme+ci' }) });
    await row.getByRole('button', { name: 'Remove the permission of acme+ci' }).click();
    const alert = row.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /no permission for user "acme\+ci" on this repository/);
    assert.equal(await page.getByRole('alert').count(), 1, 'only that row says so');
  });

  test('a member with write access sees tags and history but no admin tab', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/signin/);
    await signIn(page, BOB);
    await page.goto('/repository/acme/app');
    await page.getByRole('link', { name: 'Tag history' }).waitFor();
    for (const tab of ['Permissions', 'Usage log', 'Settings']) {
      assert.equal(await page.getByRole('link', { name: tab }).count(), 0, `no ${tab} tab`);
    }
    // Asked for by address, an admin tab falls back to the tags.
    await page.goto('/repository/acme/app?tab=permissions');
    await page.getByText(/No tags\. Push one/).waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Permissions' }).count(), 0);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/signin/);
  });

  test('deleting the repository needs its name typed; then it is gone', async () => {
    await signIn(page, E2E_USER);
    await page.goto('/repository/acme/app?tab=settings');
    const remove = page.getByRole('button', { name: 'Delete repository' });
    await remove.waitFor();
    assert.equal(await remove.isDisabled(), true, 'disabled until the name is typed');
    await page.getByLabel('Type acme/app to delete it with all its tags').fill('acme/ap');
    assert.equal(await remove.isDisabled(), true);
    await page.getByLabel('Type acme/app to delete it with all its tags').fill('acme/app');
    await remove.click();
    await page.waitForURL(`${server.url}/`);
    assert.equal((await page.request.get('/api/v1/repository/acme/app')).status(), 404);
  });

  test("a user's own repository offers no teams (they exist only in organizations)", async () => {
    await call(page.request, 'POST', '/repository', { namespace: E2E_USER.username, repository: 'mine', visibility: 'private', description: '' });
    await page.goto(`/repository/${E2E_USER.username}/mine?tab=permissions`);
    await page.getByText('No one else has a permission on this repository.').waitFor();
    assert.equal(await page.getByLabel('Kind').count(), 0, 'no kind to choose: users and robots only');
    await page.getByLabel('User or robot name').fill('bob');
    await page.getByRole('button', { name: 'Add permission' }).click();
    await page.getByRole('rowheader', { name: 'bob' }).waitFor();
    assert.deepEqual(pageErrors, [], 'no script error on any page');
  });
});
