// Issue 15 in a real browser: two `quayside serve` instances on one PostgreSQL database (the second with two
// worker processes, which still make one instance) both appear on the superuser status page with their own
// health; the second one stopped is shown as "not seen since" once the short configured bound has passed
// (INSTANCE_NOT_SEEN_AFTER_S: 3, the page refreshed until it says so). On the same server, a default
// permission's role is changed in place (the server agrees; one removed elsewhere is refused on its row), and
// the repository, organization and superuser usage logs are filtered by dates (a range with nothing in it,
// today, and an end before the start refused in words).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { E2E_USER, REPO_ROOT, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';
import { apiWithSession, signInOnPage } from './admin-server.js';
import { launchBrowser, type TestBrowser } from './browser.js';

const SCREENSHOTS = join(REPO_ROOT, '.tmp', 'web-screenshots', 'fleet-status');

/** Today in UTC as a date input wants it (YYYY-MM-DD). */
const todayIso = () => new Date().toISOString().slice(0, 10);

describe('the fleet on the status page, default permission roles and log dates in Chromium', () => {
  let fresh: FreshDatabase;
  let work: string;
  let first: RegistryServer;
  let second: RegistryServer | undefined;
  let chromium: TestBrowser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    fresh = await freshDatabase('postgres');
    work = await mkdtemp(join(tmpdir(), 'quayside-web-fleet-'));
    const config = join(work, 'config.yaml');
    await writeFile(
      config,
      `DB_URI: ${fresh.uri}
SUPER_USERS: [${E2E_USER.username}]
DISTRIBUTED_STORAGE_CONFIG:
  default: [LocalStorage, {storage_path: ${join(work, 'blobs')}}]
DISTRIBUTED_STORAGE_PREFERENCE: [default]
INSTANCE_HEARTBEAT_S: 1
INSTANCE_NOT_SEEN_AFTER_S: 3
INSTANCE_PURGE_AFTER_S: 3600
`,
    );
    first = await startQuayside({ user: E2E_USER, config });
    second = await startQuayside({ user: false, config, serveArgs: ['--workers', '2'] });
    chromium = await launchBrowser(first.url);
    page = await chromium.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await mkdir(SCREENSHOTS, { recursive: true });
    await signInOnPage(page, E2E_USER);
  });

  after(async () => {
    await chromium?.close();
    await second?.stop();
    await first?.stop();
    await fresh?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const shoot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const call = (method: string, path: string, body?: unknown) => apiWithSession(first, chromium.context, method, path, body);
  const instances = () => page.getByRole('table', { name: 'Instances' });
  const rowOf = (server: RegistryServer): Locator => instances().getByRole('row').filter({ hasText: `:${server.port}` });

  /** Presses "Check instances again" until `done` holds (heartbeats land every second). */
  async function refreshUntil(what: string, done: () => Promise<boolean>): Promise<void> {
    await waitUntil(what, async () => {
      await page.getByRole('button', { name: 'Check instances again' }).click();
      await page.getByRole('button', { name: 'Check instances again' }).and(page.locator(':enabled')).waitFor();
      return done();
    }, 60_000, 250);
  }

  test('both instances appear with their health; the workers of the second make one instance', async () => {
    await page.goto('/superuser/status');
    await page.getByRole('heading', { name: 'Instances' }).waitFor();
    await refreshUntil('both instances seen', async () => (await rowOf(first).count()) === 1 && (await rowOf(second!).count()) === 1);
    for (const server of [first, second!]) {
      const row = rowOf(server);
      assert.match(await row.innerText(), /seen \d+ s ago/);
      await row.getByText('healthy').first().waitFor();
      assert.match(await row.innerText(), new RegExp(`http://127\\.0\\.0\\.1:${server.port}`));
    }
    assert.match(await rowOf(first).innerText(), /this instance/);
    assert.doesNotMatch(await rowOf(second!).innerText(), /this instance/);
    // Header row plus one row per instance: two worker processes did not make two more.
    assert.equal(await instances().getByRole('row').count(), 3);
    const api = await call('GET', '/superuser/instances');
    assert.equal(api.status, 200);
    const listed = (api.json as { instances: Array<{ addresses: string[]; health: { endtoend: { services: Record<string, boolean> } } }> }).instances;
    assert.equal(listed.length, 2);
    for (const instance of listed) assert.deepEqual(instance.health.endtoend.services, { database: true, storage: true });
    await shoot('two-instances');
  });

  test('the second instance, stopped, is shown as not seen since its last heartbeat', async () => {
    await second!.stop();
    const stopped = second!;
    second = undefined;
    await refreshUntil('the stopped instance shown as not seen', async () => /not seen since/.test(await rowOf(stopped).innerText()));
    assert.match(await rowOf(first).innerText(), /seen \d+ s ago/);
    assert.doesNotMatch(await rowOf(first).innerText(), /not seen/);
    assert.match(await rowOf(stopped).innerText(), /\(last known\)/);
    await shoot('one-not-seen');
  });

  test('a default permission role is changed in place; one removed elsewhere is refused on its row', async () => {
    for (const [method, path, body, status] of [
      ['POST', '/organization/', { name: 'acme' }, 201],
      ['PUT', '/organization/acme/robots/ci', {}, 201],
      ['PUT', '/organization/acme/team/builders', { role: 'member' }, 200],
      ['POST', '/organization/acme/prototypes', { delegate: { kind: 'user', name: 'acme+ci' }, role: 'read' }, 200],
      ['POST', '/organization/acme/prototypes', { delegate: { kind: 'team', name: 'builders' }, role: 'write' }, 200],
    ] as const) {
      assert.equal((await call(method, path, body)).status, status, `${method} ${path}`);
    }
    await page.goto('/organization/acme?tab=defaults');
    const robotRole = page.getByRole('combobox', { name: 'Default role of acme+ci' });
    await robotRole.selectOption('admin');
    const roleOf = async (name: string) => {
      const listed = (await call('GET', '/organization/acme/prototypes')).json as { prototypes: Array<{ role: string; delegate: { name: string } }> };
      return listed.prototypes.find((p) => p.delegate.name === name)?.role;
    };
    await waitUntil('the server to hold the new role', async () => (await roleOf('acme+ci')) === 'admin');
    assert.equal(await roleOf('builders'), 'write', 'the other default permission is untouched');
    // The select follows the list the page reloads after the change, which may still be on its way.
    await waitUntil('the page to show the new role', async () => (await robotRole.inputValue()) === 'admin');

    // Removed elsewhere: the change is refused in words on that row only.
    const listed = (await call('GET', '/organization/acme/prototypes')).json as { prototypes: Array<{ id: string; delegate: { name: string } }> };
    const team = listed.prototypes.find((p) => p.delegate.name === 'builders')!;
    assert.equal((await call('DELETE', `/organization/acme/prototypes/${team.id}`)).status, 204);
    await page.getByRole('combobox', { name: 'Default role of builders' }).selectOption('read');
    const teamRow = page.getByRole('row').filter({ hasText: 'builders' });
    await teamRow.getByRole('alert').filter({ hasText: 'no default permission' }).waitFor();
    assert.equal(await page.getByRole('row').filter({ hasText: 'acme+ci' }).getByRole('alert').count(), 0);
    await shoot('default-permission-role');

    await page.goto('/organization/acme?tab=logs');
    await page.getByText('Changed the default permission of acme+ci from read to admin').waitFor();
  });

  /** Drives one log's date form: no entry in 2001, today's entries, and an end before the start refused. */
  async function checkDates(path: string, table: string, shot: string): Promise<void> {
    await page.goto(path);
    await page.getByRole('table', { name: table }).waitFor();
    const form = page.getByRole('form', { name: 'Dates of the usage log' });
    await form.getByLabel('From (UTC)').fill('2001-01-01');
    await form.getByLabel('To (UTC)').fill('2001-01-31');
    await form.getByRole('button', { name: 'Show these dates' }).click();
    await page.getByText('Nothing happened in these days.').or(page.getByText('Nothing was logged in these days.')).waitFor();
    assert.equal(await page.getByRole('table', { name: table }).count(), 0);
    await page.getByText('From 2001-01-01 to 2001-01-31 (UTC, both days included)').first().waitFor();

    await form.getByLabel('From (UTC)').fill(todayIso());
    await form.getByLabel('To (UTC)').fill(todayIso());
    await form.getByRole('button', { name: 'Show these dates' }).click();
    await page.getByRole('table', { name: table }).waitFor();

    await form.getByLabel('From (UTC)').fill('2026-02-01');
    await form.getByLabel('To (UTC)').fill('2026-01-01');
    await form.getByRole('button', { name: 'Show these dates' }).click();
    await page.getByRole('alert').filter({ hasText: 'endtime is before starttime: "01/01/2026" comes before "02/01/2026"' }).waitFor();
    assert.equal(await page.getByRole('table', { name: table }).count(), 0, 'no entries of another range are left on screen');
    await shoot(shot);

    await form.getByRole('button', { name: 'Last seven days' }).click();
    await page.getByRole('table', { name: table }).waitFor();
    assert.equal(await page.getByRole('alert').count(), 0);
  }

  test('the three usage logs are filtered by dates; an end before the start is refused in words', async () => {
    assert.equal((await call('POST', '/repository', { namespace: 'acme', repository: 'web', visibility: 'private', description: '' })).status, 201);
    assert.equal((await call('PUT', '/repository/acme/web', { description: 'the shop' })).status, 200);
    await checkDates('/repository/acme/web?tab=logs', 'Usage log of acme/web', 'repository-log-dates');
    await checkDates('/organization/acme?tab=logs', 'Usage log of acme', 'organization-log-dates');
    await checkDates('/superuser/logs', 'Usage log', 'superuser-log-dates');
    // The address bar of the API call holds Quay's format: check the server read the same days.
    const answer = await call('GET', `/organization/acme/logs?starttime=01%2F01%2F2001&endtime=01%2F31%2F2001`);
    assert.equal((answer.json as { end_time: string }).end_time, 'Thu, 01 Feb 2001 00:00:00 -0000');
  });

  test('no script error on any page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
