// The one flow, end to end in one browser test against a real `quayside serve`: the first user made
// on the CLI signs in, creates an organization, a team and a robot, copies the robot's token from the page,
// pushes a two-platform image with skopeo as the robot, sees the tag with its size and platforms, deletes
// it, restores it from the history, makes the repository public, signs out, pulls anonymously with skopeo,
// signs in again and reads all of that in the usage logs. Screenshots of the main pages are saved (printed
// at the end) for a person to look at.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildMultiArchIndex } from '../helpers/oci-images.js';
import { E2E_USER, requireCommand, skopeo, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { launchBrowser, type TestBrowser } from './browser.js';
import { SCREENSHOT_ROOT, screenshotter, signIn } from './page-checks.js';

describe('a first day with Quayside, in Chromium', () => {
  let server: RegistryServer;
  let chromium: TestBrowser;
  let page: Page;
  let work: string;
  let shoot: (name: string) => Promise<void>;
  const pageErrors: string[] = [];

  before(async () => {
    requireCommand('skopeo', 'apt-get install skopeo');
    work = await mkdtemp(join(tmpdir(), 'quayside-first-day-'));
    // startQuayside makes the first user with `quayside user create e2e --password-stdin` before serving.
    server = await startQuayside({ user: E2E_USER });
    chromium = await launchBrowser(server.url);
    // The Copy button writes to the clipboard; the test reads it back as a person would paste it.
    await chromium.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    page = await chromium.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    shoot = await screenshotter(page, 'first-day');
  });

  after(async () => {
    await chromium?.close();
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('from the first sign-in to an anonymous pull, all in the usage log', async () => {
    // Sign in as the user the CLI made.
    await page.goto('/');
    await page.waitForURL(/\/signin/);
    await shoot('01-sign-in');
    await signIn(page, E2E_USER);

    // An organization, a team that may create repositories, a robot in it.
    await page.getByRole('link', { name: 'Organizations' }).click();
    await page.getByLabel('Organization name').fill('acme');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.waitForURL(/\/organization\/acme$/);
    await page.getByLabel('New team name').fill('builders');
    await page.getByLabel('Role').selectOption('creator');
    await page.getByRole('button', { name: 'Create team' }).click();
    await page.getByRole('heading', { name: /builders \(creator\)/ }).waitFor();
    await page.getByLabel('Robot name').fill('ci');
    await page.getByRole('button', { name: 'Create robot' }).click();
    await page.getByRole('button', { name: 'Copy token of acme+ci' }).click();
    await page.getByRole('button', { name: 'Copy token of acme+ci' }).getByText('Copied').waitFor();
    const token = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(token, await page.getByLabel('token of acme+ci', { exact: true }).inputValue(), 'the clipboard holds the token shown');
    await page.getByLabel('Add a user or robot to builders').fill('acme+ci');
    await page.getByRole('button', { name: 'Add member to builders' }).click();
    await page.getByRole('button', { name: 'Remove acme+ci from builders' }).waitFor();
    await shoot('02-organization');

    // skopeo pushes a two-platform image as the robot, with the token from the clipboard.
    const image = await buildMultiArchIndex(join(work, 'multi'), 'v1', 48 * 1024);
    await skopeo(['copy', '--all', '--dest-tls-verify=false', '--dest-creds', `acme+ci:${token}`, `oci:${image.dir}:v1`, `docker://${server.hostPort}/acme/app:v1`]);

    // The tag appears with its size and platforms.
    await page.getByRole('link', { name: 'Repositories' }).first().click();
    await page.getByRole('table', { name: 'Repositories' }).getByRole('link', { name: 'acme/app' }).click();
    await page.waitForURL(/\/repository\/acme\/app$/);
    const v1 = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'v1', exact: true }) });
    await v1.getByText('linux/amd64').waitFor();
    await v1.getByText('linux/arm64').waitFor();
    assert.match(await v1.innerText(), /\d+(\.\d)? KiB/, 'the size is shown');
    await shoot('03-tags');

    // Delete it, restore it from the history.
    await v1.getByRole('button', { name: 'Delete tag v1' }).click();
    await v1.getByRole('button', { name: 'Delete v1' }).click();
    await page.getByText(/No tags\. Push one/).waitFor();
    await page.getByRole('link', { name: 'Tag history' }).click();
    await page.getByRole('button', { name: /^Restore v1 to sha256:/ }).click();
    await page.getByText(/Restored v1 to sha256:/).waitFor();
    await shoot('04-tag-history');
    await page.getByRole('link', { name: 'Tags', exact: true }).click();
    await v1.getByText('linux/arm64').waitFor();

    // Make it public.
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Make public' }).click();
    await page.getByText('The repository is now public.').waitFor();
    await shoot('05-settings');

    // Signed out, anyone can pull it.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/signin$/);
    const pulled = join(work, 'pulled');
    await skopeo(['copy', '--all', '--src-tls-verify=false', '--src-no-creds', `docker://${server.hostPort}/acme/app:v1`, `oci:${pulled}:v1`]);
    const index = JSON.parse(await readFile(join(pulled, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]?.digest, image.manifest.digest, 'the anonymous pull got the pushed index');

    // The usage log says all of it, in words and by whom (the pull row is written within a moment: refresh
    // until it is there).
    await signIn(page, E2E_USER);
    await page.goto('/repository/acme/app?tab=logs');
    const log = page.getByRole('table', { name: 'Usage log of acme/app' });
    await log.waitFor();
    const pullLine = log.getByRole('row').filter({ hasText: 'Pulled tag v1 in app' });
    while ((await pullLine.count()) === 0) {
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.getByRole('button', { name: 'Refresh' }).and(page.locator(':enabled')).waitFor();
    }
    assert.match(await pullLine.first().innerText(), /anonymous/);
    const text = await log.innerText();
    assert.match(text, /Pushed tag v1 in app\s+acme\+ci \(robot\)/);
    assert.match(text, /Deleted tag v1 in app\s+e2e/);
    assert.match(text, /Restored tag v1 in app to sha256:[0-9a-f]{12}\s+e2e/);
    assert.match(text, /Made app public\s+e2e/);
    assert.match(text, /Created repository acme\/app\s+acme\+ci \(robot\)/);
    await shoot('06-repository-usage-log');

    await page.goto('/organization/acme?tab=logs');
    const orgLog = page.getByRole('table', { name: 'Usage log of acme' });
    await orgLog.waitFor();
    const orgText = await orgLog.innerText();
    for (const line of ['Created organization acme', 'Created team builders (creator)', 'Created robot acme+ci', 'Added acme+ci to team builders', 'Pushed tag v1 in app']) {
      assert.ok(orgText.includes(line), `the organization's log says "${line}":\n${orgText}`);
    }
    await shoot('07-organization-usage-log');
    assert.deepEqual(pageErrors, [], 'no script error on any page');
    console.log(`screenshots of the main pages: ${join(SCREENSHOT_ROOT, 'first-day')}`);
  });
});
