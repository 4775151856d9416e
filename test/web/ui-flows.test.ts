// The web UI in a real browser against a real `quayside serve`: the first user made on the CLI signs in,
// sees repositories pushed with skopeo, opens one, sees its tags (size, platforms, pull command), deletes a
// tag and restores it from history, creates a repository, signs out; bad input gets readable errors.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { buildMultiArchIndex, buildUmociImage } from '../helpers/oci-images.js';
import { E2E_USER, REPO_ROOT, requireCommand, skopeo, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { skopeoLogin } from '../helpers/registry-auth.js';
import { launchBrowser, type TestBrowser } from './browser.js';

// Screenshots of the main pages for a person to look at (.tmp/ is ignored by git, never committed).
const SCREENSHOTS = join(REPO_ROOT, '.tmp', 'web-screenshots');

describe('the web UI in Chromium', () => {
  let server: RegistryServer;
  let work: string;
  let chromium: TestBrowser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    requireCommand('skopeo', 'apt-get install skopeo');
    requireCommand('umoci', 'apt-get install umoci');
    work = await mkdtemp(join(tmpdir(), 'quayside-web-'));
    server = await startQuayside({ user: E2E_USER });
    await skopeoLogin({ hostPort: server.hostPort, credentials: E2E_USER }, work);
    const image = await buildUmociImage(join(work, 'single'), 'v1', 64 * 1024);
    const multi = await buildMultiArchIndex(join(work, 'multi'), 'v1', 32 * 1024);
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, `docker://${server.hostPort}/e2e/app:v1`]);
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, `docker://${server.hostPort}/e2e/app:stable`]);
    await skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${multi.dir}:v1`, `docker://${server.hostPort}/e2e/multi:v1`]);
    chromium = await launchBrowser(server.url);
    context = chromium.context;
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await mkdir(SCREENSHOTS, { recursive: true });
  });

  const shoot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  after(async () => {
    await chromium?.close();
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a signed-out visitor is sent to sign in; a wrong password is refused in words', async () => {
    await page.goto('/repository/e2e/app');
    await page.waitForURL(/\/signin\?next=/);
    await page.getByLabel('Username').fill(E2E_USER.username);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /invalid username or password/i);
    await shoot('signin-error');
    const cookies = await context.cookies();
    assert.equal(cookies.find((cookie) => cookie.name === 'quayside_session'), undefined, 'no session after a refused sign-in');
  });

  test('signing in lands on the page asked for; the session cookie is HttpOnly and nothing is in storage', async () => {
    await page.getByLabel('Password').fill(E2E_USER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/repository\/e2e\/app$/);
    await page.getByRole('heading', { name: 'e2e/app' }).waitFor();
    const session = (await context.cookies()).find((cookie) => cookie.name === 'quayside_session');
    assert.ok(session !== undefined, 'the server set the session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    const stored = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie }));
    assert.deepEqual(stored, { local: 0, session: 0, cookie: '' });
  });

  test('the repositories list shows what skopeo pushed, with visibility, and the search narrows it', async () => {
    await page.getByRole('link', { name: 'Repositories' }).first().click();
    await page.waitForURL(`${server.url}/`);
    const table = page.getByRole('table', { name: 'Repositories' });
    await table.getByRole('link', { name: 'e2e/multi' }).waitFor();
    await table.getByRole('link', { name: 'e2e/app' }).waitFor();
    await shoot('repositories');
    const appRow = table.getByRole('row').filter({ has: page.getByRole('link', { name: 'e2e/app' }) });
    assert.match(await appRow.innerText(), /private/);
    assert.match(await appRow.innerText(), /\d{4}-\d\d-\d\d \d\d:\d\d/, 'last modified is shown');
    assert.match(await appRow.innerText(), /\d+(\.\d+)? KiB/, 'its size is shown');
    await page.getByLabel('Search repositories').fill('multi');
    await table.getByRole('link', { name: 'e2e/app' }).waitFor({ state: 'detached' });
    assert.equal(await table.getByRole('link').count(), 1);
    await page.getByLabel('Search repositories').fill('nothing-like-this');
    await page.getByText('No repository matches.').waitFor();
  });

  test('a multi-arch tag shows its digest, size, platforms and pull command', async () => {
    await page.goto('/repository/e2e/multi');
    const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'v1' }) });
    await row.waitFor();
    await row.getByText('linux/amd64').waitFor();
    await row.getByText('linux/arm64').waitFor();
    const text = await row.innerText();
    assert.match(text, /sha256:[0-9a-f]{12}/);
    assert.match(text, /\d+(\.\d)? KiB/, 'a size in KiB');
    const pull = row.getByLabel('pull command for v1', { exact: true });
    assert.equal(await pull.inputValue(), `docker pull ${server.hostPort}/e2e/multi:v1`);
    await shoot('tags-multi-arch');
    await page.setViewportSize({ width: 390, height: 844 });
    await shoot('tags-phone-width');
    await page.setViewportSize({ width: 1280, height: 720 });
  });

  test('deleting a tag removes it; restoring it from the history brings it back', async () => {
    await page.goto('/repository/e2e/app');
    const v1 = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'v1', exact: true }) });
    await v1.waitFor();
    assert.match(await v1.innerText(), /single image/);
    await v1.getByRole('button', { name: 'Delete tag v1' }).click();
    await v1.getByRole('button', { name: 'Delete v1' }).click();
    await v1.waitFor({ state: 'detached' });
    await page.getByRole('rowheader', { name: 'stable' }).waitFor();

    await page.getByRole('link', { name: 'Tag history' }).click();
    await page.waitForURL(/tab=history/);
    const restore = page.getByRole('button', { name: /^Restore v1 to sha256:/ });
    await shoot('tag-history');
    await restore.click();
    await page.getByText(/Restored v1 to sha256:/).waitFor();

    await page.getByRole('link', { name: 'Tags', exact: true }).click();
    await page.getByRole('rowheader', { name: 'v1', exact: true }).waitFor();
    const tags = await (await page.request.get('/api/v1/repository/e2e/app/tag/?onlyActiveTags=true')).json();
    assert.deepEqual(tags.tags.map((tag: { name: string }) => tag.name).sort(), ['stable', 'v1']);
  });

  test('creating a repository: an invalid name is explained, a valid one opens its page', async () => {
    await page.goto('/new');
    await page.getByLabel('Repository name').fill('Not A Valid Name');
    await page.getByRole('button', { name: 'Create repository' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /invalid repository name|repository name/i);
    await shoot('create-repository-error');
    await page.getByLabel('Repository name').fill('made-in-the-browser');
    await page.getByRole('radio', { name: /Public: anyone can pull/ }).check();
    await page.getByRole('button', { name: 'Create repository' }).click();
    await page.waitForURL(/\/repository\/e2e\/made-in-the-browser$/);
    await page.getByText('public', { exact: true }).waitFor();
    await page.getByText(/No tags\. Push one/).waitFor();
  });

  test('the password is changed on the account page: a wrong current one is refused in words, then the new one signs in', async () => {
    await page.goto('/account');
    await page.getByRole('heading', { name: 'Account settings' }).waitFor();
    const newPassword = 'e2e-password-changed-1';
    await page.getByLabel('Current password').fill('not-the-password');
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByLabel('New password again').fill(newPassword);
    await page.getByRole('button', { name: 'Change password' }).click();
    const refused = page.getByRole('alert');
    await refused.waitFor();
    assert.match(await refused.innerText(), /current_password is not the password/);
    await page.getByLabel('Current password').fill(E2E_USER.password);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.waitForURL(/\/signin\?changed=password$/);
    await page.getByRole('status').filter({ hasText: 'Your password was changed' }).waitFor();
    await page.getByLabel('Username').fill(E2E_USER.username);
    await page.getByLabel('Password').fill(newPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname === '/');
    const old = await fetch(`${server.url}/api/v1/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: E2E_USER.username, password: E2E_USER.password }),
    });
    assert.equal(old.status, 403, 'the old password no longer signs in');
  });

  test('signing out ends the session on the server and returns to sign in', async () => {
    const before = (await context.cookies()).find((cookie) => cookie.name === 'quayside_session');
    assert.ok(before !== undefined);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/signin$/);
    assert.equal((await context.cookies()).find((cookie) => cookie.name === 'quayside_session'), undefined);
    // The old cookie value is dead on the server too, not only forgotten by the browser.
    const replay = await fetch(`${server.url}/api/v1/user/`, { headers: { cookie: `quayside_session=${before.value}` } });
    assert.equal(replay.status, 401);
    await page.goto('/');
    await page.waitForURL(/\/signin/);
    assert.deepEqual(pageErrors, [], 'no script error on any page');
  });
});
