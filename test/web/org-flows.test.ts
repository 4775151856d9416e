// Organizations and account tokens in a real browser against a real `quayside serve`: the first user (made
// on the CLI) creates an organization, a team with a role, a robot whose token is shown once, adds the robot
// to the team and removes it, regenerates the robot's token; creates and revokes an app token. Bad input is
// refused in words where it was typed, and each token the page shows works against the registry.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { E2E_USER, REPO_ROOT, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { launchBrowser, type TestBrowser } from './browser.js';

const SCREENSHOTS = join(REPO_ROOT, '.tmp', 'web-screenshots');

/** Whether `username:secret` is accepted by the Basic-auth token endpoint of /v2. */
async function tokenWorks(server: RegistryServer, username: string, secret: string): Promise<boolean> {
  const response = await fetch(`${server.url}/v2/auth?service=${encodeURIComponent(server.hostPort)}&scope=`, {
    headers: { authorization: `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}` },
  });
  return response.status === 200;
}

describe('organizations and tokens in Chromium', () => {
  let server: RegistryServer;
  let chromium: TestBrowser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    server = await startQuayside({ user: E2E_USER });
    chromium = await launchBrowser(server.url);
    page = await chromium.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.goto('/signin');
    await page.getByLabel('Username').fill(E2E_USER.username);
    await page.getByLabel('Password').fill(E2E_USER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Organizations' }).waitFor();
  });

  const shoot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  after(async () => {
    await chromium?.close();
    await server?.stop();
  });

  test('creating an organization: a bad name is refused in words, a good one opens its page as admin', async () => {
    await page.getByRole('link', { name: 'Organizations' }).click();
    await page.getByRole('heading', { name: 'Organizations' }).waitFor();
    await page.getByLabel('Organization name').fill('Bad Name!');
    await page.getByRole('button', { name: 'Create organization' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /name/i);
    await page.getByLabel('Organization name').fill('acme');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.waitForURL(/\/organization\/acme$/);
    await page.getByRole('heading', { name: 'acme', exact: true }).waitFor();
    await page.getByRole('heading', { name: 'Teams' }).waitFor();
    // The creator is in the owners team, shown with its members.
    await page.getByRole('heading', { name: /owners \(admin\)/ }).waitFor();
    // The members load after the team: wait for them rather than read the list at once.
    const owners = page.getByRole('list', { name: 'Members of owners' });
    await owners.getByText(E2E_USER.username).waitFor();
    assert.match(await owners.innerText(), new RegExp(E2E_USER.username));
  });

  test('a team is created with its role; a robot is created with its token shown once, and the token works', async () => {
    await page.getByLabel('New team name').fill('builders');
    await page.getByLabel('Role').selectOption('creator');
    await page.getByRole('button', { name: 'Create team' }).click();
    await page.getByRole('heading', { name: /builders \(creator\)/ }).waitFor();

    await page.getByLabel('Robot name').fill('ci');
    await page.getByRole('button', { name: 'Create robot' }).click();
    const token = page.getByLabel('token of acme+ci', { exact: true });
    await token.waitFor();
    const secret = await token.inputValue();
    assert.ok(secret.length >= 20, 'a token is shown');
    assert.equal(await tokenWorks(server, 'acme+ci', secret), true, 'the shown token signs the robot in');
    await shoot('organization');

    // Reloading the page drops the token: it is shown once, from the create response only.
    await page.reload();
    await page.getByRole('button', { name: 'Regenerate token of acme+ci' }).waitFor();
    assert.equal(await page.getByLabel('token of acme+ci', { exact: true }).count(), 0);

    await page.getByRole('button', { name: 'Regenerate token of acme+ci' }).click();
    const fresh = await page.getByLabel('token of acme+ci', { exact: true }).inputValue();
    assert.notEqual(fresh, secret);
    assert.equal(await tokenWorks(server, 'acme+ci', fresh), true, 'the regenerated token works');
    assert.equal(await tokenWorks(server, 'acme+ci', secret), false, 'the old token no longer works');
  });

  test('members are added and removed; an unknown user is refused in words at the team', async () => {
    await page.getByLabel('Add a user or robot to builders').fill('nobody-here');
    await page.getByRole('button', { name: 'Add member to builders' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /unknown user "nobody-here"/);

    await page.getByLabel('Add a user or robot to builders').fill('acme+ci');
    await page.getByRole('button', { name: 'Add member to builders' }).click();
    await page.getByRole('button', { name: 'Remove acme+ci from builders' }).waitFor();
    // The server agrees (the page's own session, outside the page).
    const members: unknown = await (await page.request.get('/api/v1/organization/acme/team/builders/members')).json();
    assert.deepEqual((members as { members: { name: string }[] }).members.map((m) => m.name), ['acme+ci']);

    await page.getByRole('button', { name: 'Remove acme+ci from builders' }).click();
    await page.getByRole('button', { name: 'Remove acme+ci from builders' }).waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Delete acme+ci' }).click();
    await page.getByText('No robot accounts.').waitFor();
  });

  test('an app token is created, shown once, works as the password, and is revoked', async () => {
    await page.getByRole('link', { name: E2E_USER.username }).click();
    await page.getByRole('heading', { name: 'Account settings' }).waitFor();
    await page.getByLabel('Token title').fill('laptop');
    await page.getByRole('button', { name: 'Create token' }).click();
    const field = page.getByLabel('token laptop', { exact: true });
    await field.waitFor();
    const secret = await field.inputValue();
    assert.equal(await tokenWorks(server, E2E_USER.username, secret), true, 'the app token signs the user in');
    await shoot('account-tokens');
    await page.reload();
    await page.getByRole('button', { name: 'Revoke token laptop' }).waitFor();
    assert.equal(await page.getByLabel('token laptop', { exact: true }).count(), 0, 'not shown after a reload');
    await page.getByRole('button', { name: 'Revoke token laptop' }).click();
    await page.getByText('No tokens.').waitFor();
    assert.equal(await tokenWorks(server, E2E_USER.username, secret), false, 'a revoked token is refused');
  });

  test('a member who is not an admin sees the teams but no button to change them and no robots', async () => {
    // A second user creates an account over the API (FEATURE_USER_CREATION is on by default); the admin then
    // adds it to builders on the page.
    const password = 'bob-password-1';
    const made = await fetch(`${server.url}/api/v1/user/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bob', password, email: 'bob@example.com' }),
    });
    assert.ok(made.ok, await made.text());
    await page.goto('/organization/acme');
    await page.getByLabel('Add a user or robot to builders').fill('bob');
    await page.getByRole('button', { name: 'Add member to builders' }).click();
    await page.getByRole('button', { name: 'Remove bob from builders' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/signin/);
    await page.getByLabel('Username').fill('bob');
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Organizations' }).waitFor();
    await page.goto('/organization/acme');
    await page.getByRole('heading', { name: /builders \(creator\)/ }).waitFor();
    assert.equal(await page.getByRole('button').filter({ hasNotText: 'Sign out' }).count(), 0, 'no button but sign out');
    assert.equal(await page.getByRole('textbox').count(), 0, 'no form');
    assert.equal(await page.getByRole('heading', { name: 'Robot accounts' }).count(), 0);
    // Not in owners: its members are not listed, and that is said plainly, not as an error.
    await page.getByText("Its members are shown to them and to the organization's admins.").waitFor();
    assert.equal(await page.getByRole('alert').count(), 0);
    await shoot('organization-member');
  });

  test('the organization page at phone width, and no script error on any page', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto('/organization/acme');
    await page.getByRole('heading', { name: /builders/ }).waitFor();
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll('body *')]
        .filter((element) => element.getBoundingClientRect().right > window.innerWidth + 1)
        .map((element) => `${element.tagName.toLowerCase()}.${element.className}`),
    );
    assert.deepEqual(wide, [], 'nothing wider than the phone');
    await shoot('organization-phone');
    assert.deepEqual(pageErrors, []);
  });
});
