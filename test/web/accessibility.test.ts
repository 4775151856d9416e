// Every page of the UI, checked by axe-core in the same Chromium, at a laptop width in the light scheme and at
// a phone width in the dark one: no serious or critical violation, nothing wider than the screen, and a
// screenshot of each (in .tmp/web-screenshots/<width>/, never committed) for a person to look at.
// axe-core is a devDependency evaluated into the page by the test (the CSP stays on; nothing is added to
// the bundle). To cover a new page, add an entry to PAGES.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { E2E_USER, REPO_ROOT } from '../helpers/processes.js';
import { apiWithSession, signInOnPage, startAdminServer, type AdminServer } from './admin-server.js';
import { launchBrowser, type TestBrowser } from './browser.js';
import { pushSampleImages } from './seed.js';

const SCREENSHOTS = join(REPO_ROOT, '.tmp', 'web-screenshots');

interface UiPage {
  /** A file-name-safe name, also used in failure messages. */
  name: string;
  path: string;
  /** Whether the page is seen signed in (signed-out pages are visited first). */
  signedIn: boolean;
  /** What is on screen once the page has loaded what it shows. */
  ready: (page: Page) => Locator;
  /** Brings the page into a state worth checking too (a result shown, a form opened). */
  prepare?: (page: Page) => Promise<void>;
}

/** Fills a usage log's date form and shows it (an end before the start: the server's refusal is on screen). */
const showDates = (from: string, to: string, expect: (page: Page) => Locator) => async (page: Page) => {
  const form = page.getByRole('form', { name: 'Dates of the usage log' });
  await form.getByLabel('From (UTC)').fill(from);
  await form.getByLabel('To (UTC)').fill(to);
  await form.getByRole('button', { name: 'Show these dates' }).click();
  await expect(page).waitFor();
};

const heading = (name: string | RegExp) => (page: Page) => page.getByRole('heading', { name, exact: typeof name === 'string' ? true : undefined }).first();

/** Every page of the UI, in the order they are visited. */
const PAGES: UiPage[] = [
  { name: 'signin', path: '/signin', signedIn: false, ready: heading('Sign in to Quayside') },
  { name: 'signup', path: '/signup', signedIn: false, ready: heading('Create account') },
  { name: 'repositories', path: '/', signedIn: true, ready: (page) => page.getByRole('table', { name: 'Repositories' }) },
  { name: 'new-repository', path: '/new', signedIn: true, ready: heading('Create repository') },
  { name: 'account', path: '/account', signedIn: true, ready: heading('Account settings') },
  { name: 'organizations', path: '/organizations', signedIn: true, ready: heading('Organizations') },
  { name: 'organization', path: '/organization/acme', signedIn: true, ready: heading('Robot accounts') },
  { name: 'repository-tags', path: '/repository/e2e/app', signedIn: true, ready: (page) => page.getByRole('table', { name: 'Tags of e2e/app' }) },
  { name: 'index-tags', path: '/repository/e2e/multi', signedIn: true, ready: (page) => page.getByText('linux/arm64').first() },
  { name: 'tag-history', path: '/repository/e2e/app?tab=history', signedIn: true, ready: (page) => page.getByRole('table').first() },
  { name: 'repository-settings', path: '/repository/e2e/app?tab=settings', signedIn: true, ready: heading('Delete repository') },
  { name: 'repository-permissions', path: '/repository/e2e/app?tab=permissions', signedIn: true, ready: heading('Permissions') },
  { name: 'repository-logs', path: '/repository/e2e/app?tab=logs', signedIn: true, ready: heading('Usage log') },
  { name: 'organization-defaults', path: '/organization/acme?tab=defaults', signedIn: true, ready: (page) => page.getByRole('combobox', { name: 'Default role of acme+ci' }) },
  { name: 'organization-logs', path: '/organization/acme?tab=logs', signedIn: true, ready: heading('Usage log') },
  {
    name: 'organization-logs-refused-dates',
    path: '/organization/acme?tab=logs',
    signedIn: true,
    ready: (page) => page.getByRole('table', { name: 'Usage log of acme' }),
    prepare: showDates('2026-02-01', '2026-01-01', (page) => page.getByRole('alert').filter({ hasText: 'endtime is before starttime' })),
  },
  {
    name: 'repository-logs-dates',
    path: '/repository/e2e/app?tab=logs',
    signedIn: true,
    ready: heading('Usage log'),
    prepare: showDates('2001-01-01', '2001-01-31', (page) => page.getByText('Nothing happened in these days.')),
  },
  { name: 'superuser-users', path: '/superuser/users', signedIn: true, ready: (page) => page.getByRole('table', { name: 'Users' }) },
  { name: 'superuser-organizations', path: '/superuser/organizations', signedIn: true, ready: (page) => page.getByRole('table', { name: 'Organizations' }) },
  { name: 'superuser-logs', path: '/superuser/logs', signedIn: true, ready: (page) => page.getByRole('table', { name: 'Usage log' }) },
  {
    name: 'superuser-logs-dates',
    path: '/superuser/logs',
    signedIn: true,
    ready: (page) => page.getByRole('table', { name: 'Usage log' }),
    prepare: showDates(new Date().toISOString().slice(0, 10), new Date().toISOString().slice(0, 10), (page) => page.getByText(/^Everything that happened in every namespace\. From /)),
  },
  {
    name: 'superuser-status',
    path: '/superuser/status',
    signedIn: true,
    ready: (page) => page.getByRole('table', { name: 'Service keys' }),
    prepare: async (page) => {
      await page.getByRole('table', { name: 'Instances' }).getByText('this instance').waitFor();
      await page.getByRole('button', { name: 'Validate storage' }).click();
      await page.getByRole('status').filter({ hasText: 'Validation failed' }).waitFor();
    },
  },
  { name: 'not-found', path: '/user/nobody', signedIn: true, ready: heading('Page not found') },
];

/** The two screens every page is seen on. */
const SCREENS = [
  { name: 'laptop', width: 1366, height: 768, colorScheme: 'light' },
  { name: 'phone', width: 390, height: 844, colorScheme: 'dark' },
] as const;

/** Impacts that fail the test; minor and moderate ones are printed only. */
const FAILING_IMPACTS = new Set(['serious', 'critical']);

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string }>;
}

/** axe-core's browser build, from the devDependency (fails loudly when `npm ci` was not run). */
async function axeSource(): Promise<string> {
  let file: string;
  try {
    file = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
  } catch {
    throw new Error('axe-core is not installed: run "npm ci" (it is a devDependency of quayside)');
  }
  return readFile(file, 'utf8');
}

/** Runs axe on the page's document; the page's CSP does not apply to what the test evaluates. */
async function violationsOf(page: Page, source: string): Promise<AxeViolation[]> {
  await page.evaluate(source);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.map((node) => ({ target: node.target, failureSummary: node.failureSummary })),
    }));
  });
}

function describeViolation(where: string, violation: AxeViolation): string {
  const targets = violation.nodes.slice(0, 3).map((node) => node.target.join(' ')).join(', ');
  return `${where}: ${violation.id} (${violation.impact ?? 'unknown'}) ${violation.help} at ${targets}${violation.nodes.length > 3 ? ` and ${violation.nodes.length - 3} more` : ''}`;
}

/** How far the page is wider than the screen and the outermost elements that stick out, or undefined. */
async function widerThanScreen(page: Page): Promise<string | undefined> {
  return page.evaluate(() => {
    const excess = document.documentElement.scrollWidth - window.innerWidth;
    if (excess <= 0) return undefined;
    const culprits: string[] = [];
    for (const element of Array.from(document.body.querySelectorAll('*'))) {
      // Elements inside a frame that scrolls sideways are allowed past its edge.
      if (element.closest('.scroll') !== null && !element.classList.contains('scroll')) continue;
      if (element.getBoundingClientRect().right <= window.innerWidth + 0.5) continue;
      if (culprits.length < 3) culprits.push(`${element.tagName.toLowerCase()}${element.className ? `.${String(element.className).split(' ').join('.')}` : ''}`);
    }
    return `the page is ${excess} px wider than the screen (past the edge: ${culprits.join(', ')})`;
  });
}

describe('accessibility and layout of every page in Chromium', () => {
  let admin: AdminServer;
  let work: string;
  let chromium: TestBrowser;
  let page: Page;
  let source: string;
  const pageErrors: string[] = [];

  before(async () => {
    source = await axeSource();
    work = await mkdtemp(join(tmpdir(), 'quayside-web-a11y-'));
    admin = await startAdminServer();
    await pushSampleImages(admin.server, E2E_USER, work);
    chromium = await launchBrowser(admin.server.url);
    page = await chromium.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    for (const screen of SCREENS) await mkdir(join(SCREENSHOTS, screen.name), { recursive: true });
  });

  after(async () => {
    await chromium?.close();
    await admin?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Content for the signed-in pages: an organization with a team and a robot, one more user. */
  async function seed(): Promise<void> {
    const call = (method: string, path: string, body?: unknown) => apiWithSession(admin.server, chromium.context, method, path, body);
    const steps: Array<[string, string, unknown, number]> = [
      ['POST', '/organization/', { name: 'acme' }, 201],
      ['PUT', '/organization/acme/team/builders', { role: 'creator', description: 'CI builds' }, 200],
      ['PUT', '/organization/acme/robots/ci', {}, 201],
      ['POST', '/organization/acme/prototypes', { delegate: { kind: 'user', name: 'acme+ci' }, role: 'read' }, 200],
      ['POST', '/superuser/users/', { username: 'bob', email: 'bob@example.com' }, 200],
    ];
    for (const [method, path, body, status] of steps) {
      const answer = await call(method, path, body);
      assert.equal(answer.status, status, `${method} ${path}: ${JSON.stringify(answer.json)}`);
    }
  }

  test('no page has a serious or critical axe violation or is wider than the screen, at both sizes', async (t) => {
    const failures: string[] = [];
    const notes: string[] = [];
    let signedIn = false;
    for (const entry of PAGES) {
      if (entry.signedIn && !signedIn) {
        await page.setViewportSize({ width: SCREENS[0].width, height: SCREENS[0].height });
        await signInOnPage(page, E2E_USER);
        await seed();
        signedIn = true;
      }
      for (const screen of SCREENS) {
        const where = `${entry.name} (${entry.path}) on a ${screen.name} (${screen.width} px, ${screen.colorScheme})`;
        await page.setViewportSize({ width: screen.width, height: screen.height });
        await page.emulateMedia({ colorScheme: screen.colorScheme });
        await page.goto(entry.path);
        await entry.ready(page).waitFor();
        await entry.prepare?.(page);
        for (const violation of await violationsOf(page, source)) {
          (FAILING_IMPACTS.has(violation.impact ?? '') ? failures : notes).push(describeViolation(where, violation));
        }
        const overflow = await widerThanScreen(page);
        if (overflow !== undefined) failures.push(`${where}: ${overflow}`);
        await page.screenshot({ path: join(SCREENSHOTS, screen.name, `${entry.name}.png`), fullPage: true });
      }
    }
    for (const note of notes) t.diagnostic(`minor or moderate axe finding: ${note}`);
    t.diagnostic(`screenshots of ${PAGES.length} pages in ${SCREENSHOTS}/{${SCREENS.map((screen) => screen.name).join(',')}}/`);
    assert.deepEqual(failures, []);
    assert.deepEqual(pageErrors, []);
  });
});
