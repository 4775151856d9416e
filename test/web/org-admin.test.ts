// An organization's admin pages in a real browser against a real `quayside serve`: the last admin is offered
// no Remove (the server would refuse it), a robot's repository permissions (given, changed, removed; an
// unknown repository refused in words where it was typed), default permissions (added, applied by the server
// to the next repository created, removed), and the organization's usage log with paging.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { E2E_USER, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { launchBrowser, type TestBrowser } from './browser.js';
import { call, elementsPastTheEdge, screenshotter, signIn } from './page-checks.js';

describe('organization administration in Chromium', () => {
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
    shoot = await screenshotter(page, 'org-admin');
    const made = await fetch(`${server.url}/api/v1/user/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bob', password: 'bob-password-1', email: 'bob@example.com' }),
    });
    assert.ok(made.ok, await made.text());
    await signIn(page, E2E_USER);
    await call(page.request, 'POST', '/organization/', { name: 'acme' });
    await call(page.request, 'POST', '/repository', { namespace: 'acme', repository: 'web', visibility: 'private', description: '' });
  });

  after(async () => {
    await chromium?.close();
    await server?.stop();
  });

  test('the last admin of the organization is offered no Remove; with a second admin both are', async () => {
    await page.goto('/organization/acme');
    const owners = page.getByRole('list', { name: 'Members of owners' });
    await owners.getByText(E2E_USER.username).waitFor();
    await page.getByText('(the last admin: add another before removing)').waitFor();
    assert.equal(await page.getByRole('button', { name: `Remove ${E2E_USER.username} from owners` }).count(), 0);
    // The server agrees that it may not be done.
    const refused = await page.request.delete(`/api/v1/organization/acme/team/owners/members/${E2E_USER.username}`, {
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(refused.status(), 400);
    assert.match(await refused.text(), /without any user in an admin team/);

    await page.getByLabel('Add a user or robot to owners').fill('bob');
    await page.getByRole('button', { name: 'Add member to owners' }).click();
    await page.getByRole('button', { name: 'Remove bob from owners' }).waitFor();
    await page.getByRole('button', { name: `Remove ${E2E_USER.username} from owners` }).waitFor();
    assert.equal(await page.getByText('(the last admin: add another before removing)').count(), 0);
    await page.getByRole('button', { name: 'Remove bob from owners' }).click();
    await page.getByText('(the last admin: add another before removing)').waitFor();
    assert.equal(await page.getByRole('button', { name: `Remove ${E2E_USER.username} from owners` }).count(), 0);
  });

  test("a robot's repository permissions: an unknown repository refused in words, given, changed, removed", async () => {
    await page.getByLabel('Robot name').fill('deployer');
    await page.getByRole('button', { name: 'Create robot' }).click();
    await page.getByLabel('token of acme+deployer', { exact: true }).waitFor();
    const toggle = page.getByRole('button', { name: 'Permissions of acme+deployer' });
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    await page.getByText('acme+deployer has no permission on any repository yet.').waitFor();

    const field = page.getByLabel('Give acme+deployer a repository of acme');
    await field.fill('no-such-repo');
    await page.getByRole('button', { name: 'Give acme+deployer the repository' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /not found|does not exist|no such/i);

    await field.fill('web');
    await page.getByLabel('Role of acme+deployer on the new repository').selectOption('write');
    await page.getByRole('button', { name: 'Give acme+deployer the repository' }).click();
    const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'acme/web' }) });
    await row.waitFor();
    assert.equal(await page.getByRole('alert').count(), 0, 'the error is gone once it worked');
    assert.equal(await row.getByLabel('Role of acme+deployer on web').inputValue(), 'write');

    await row.getByLabel('Role of acme+deployer on web').selectOption('read');
    await page.waitForFunction(async () => {
      const answer = await fetch('/api/v1/organization/acme/robots/deployer/permissions').then((r) => r.json());
      return answer.permissions.length === 1 && answer.permissions[0].role === 'read';
    });
    await shoot('robot-permissions');
    await row.getByRole('button', { name: 'Remove acme+deployer from web' }).click();
    await page.getByText('acme+deployer has no permission on any repository yet.').waitFor();
    assert.deepEqual(await call(page.request, 'GET', '/organization/acme/robots/deployer/permissions'), { permissions: [] });
  });

  test("a robot action that fails on the server is explained at that robot", async () => {
    await page.getByLabel('Robot name').fill('temp');
    await page.getByRole('button', { name: 'Create robot' }).click();
    await page.getByRole('button', { name: 'Regenerate token of acme+temp' }).waitFor();
    const gone = await page.request.delete('/api/v1/organization/acme/robots/temp', { headers: { 'content-type': 'application/json' } });
    assert.equal(gone.status(), 204);
    await page.getByRole('button', { name: 'Regenerate token of acme+temp' }).click();
    const item = page.getByRole('listitem').filter({ has: page.getByRole('button', { name: 'Delete acme+temp' }) });
    await item.getByRole('alert').waitFor();
    assert.match(await item.getByRole('alert').innerText(), /robot "acme\+temp" not found/);
    assert.equal(await page.getByRole('alert').count(), 1, 'only that robot says so');
    await page.reload();
    await page.getByRole('button', { name: 'Permissions of acme+deployer' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Delete acme+temp' }).count(), 0);
  });

  test('default permissions: an unknown user refused in words; one added applies to the next repository; removed', async () => {
    await page.getByRole('link', { name: 'Default permissions' }).click();
    await page.waitForURL(/tab=defaults/);
    await page.getByText('No default permissions.').waitFor();
    await page.getByLabel('User or robot name').fill('ghost');
    await page.getByRole('button', { name: 'Add default permission' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /unknown user "ghost"/);

    await page.getByLabel('User or robot name').fill('acme+deployer');
    await page.getByLabel('Role to give').selectOption('write');
    await page.getByRole('button', { name: 'Add default permission' }).click();
    const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'acme+deployer' }) });
    await row.waitFor();
    assert.match(await row.innerText(), /robot/);
    // The role is a select now (changed in place: test/web/fleet-status.test.ts).
    assert.equal(await row.getByRole('combobox', { name: 'Default role of acme+deployer' }).inputValue(), 'write');
    await shoot('default-permissions');

    // The next repository created in acme gives the robot write at once.
    await call(page.request, 'POST', '/repository', { namespace: 'acme', repository: 'fresh', visibility: 'private', description: '' });
    const granted = await call(page.request, 'GET', '/organization/acme/robots/deployer/permissions');
    assert.deepEqual(granted.permissions, [{ repository: { name: 'fresh', is_public: false }, role: 'write' }]);

    // Removed behind the page's back first: the page's Remove then says why it failed, on that row.
    const { prototypes } = await call(page.request, 'GET', '/organization/acme/prototypes');
    const id = (prototypes as { id: string }[])[0]!.id;
    const gone = await page.request.delete(`/api/v1/organization/acme/prototypes/${id}`, { headers: { 'content-type': 'application/json' } });
    assert.equal(gone.status(), 204);
    await row.getByRole('button', { name: 'Remove the default permission of acme+deployer' }).click();
    await row.getByRole('alert').waitFor();
    assert.match(await row.getByRole('alert').innerText(), /no default permission/);
    await page.reload();
    await page.getByText('No default permissions.').waitFor();
    assert.deepEqual((await call(page.request, 'GET', '/organization/acme/prototypes')).prototypes, []);
  });

  test("the organization's usage log says what happened, in words, 20 a page", async () => {
    // Enough changes for a second page (20 entries a page).
    for (let i = 0; i < 12; i += 1) {
      await call(page.request, 'PUT', '/repository/acme/web/permissions/user/bob', { role: i % 2 === 0 ? 'read' : 'write' });
    }
    await page.getByRole('link', { name: 'Usage log' }).click();
    await page.waitForURL(/tab=logs/);
    const log = page.getByRole('table', { name: 'Usage log of acme' });
    await log.waitFor();
    assert.equal(await log.locator('tbody tr').count(), 20);
    await page.getByRole('button', { name: 'Show older entries' }).click();
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length > 20);
    const text = await log.innerText();
    for (const line of [
      'Created organization acme',
      'Created repository acme/web',
      'Added bob to team owners',
      'Removed bob from team owners',
      'Created robot acme+deployer',
      'Gave acme+deployer write on web',
      'Removed the permission of acme+deployer on web',
      'Added the default permission write for acme+deployer',
      'Removed the default permission write of acme+deployer',
      'Gave bob write on web',
    ]) {
      assert.ok(text.includes(line), `the log says "${line}":\n${text}`);
    }
    await shoot('org-usage-log');
  });

  test('the admin tabs at phone width, and no script error on any page', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const tab of ['teams', 'defaults', 'logs']) {
      await page.goto(`/organization/acme?tab=${tab}`);
      await page.getByRole('link', { name: 'Usage log' }).waitFor();
      await page.getByText('Loading…').waitFor({ state: 'detached' });
      assert.deepEqual(await elementsPastTheEdge(page), [], `nothing wider than the phone on ${tab}`);
    }
    await shoot('org-phone');
    await page.setViewportSize({ width: 1280, height: 720 });
    assert.deepEqual(pageErrors, []);
  });
});
