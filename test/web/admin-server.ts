// A `quayside serve` for the superuser pages: e2e is a superuser (SUPER_USERS) and two storage locations
// are configured, the preferred one good and the other one impossible (a path under a regular file), so the
// status page's "Validate storage" has one of each to show. The server starts (a failing location other
// than the preferred one is only a warning) and its API is driven from the test with the page's cookie.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { E2E_USER, startQuayside, type Credentials, type RegistryServer } from '../helpers/processes.js';

export interface AdminServer {
  server: RegistryServer;
  /** The preferred (good) location's directory, where validation writes _verify. */
  goodDir: string;
  /** The impossible location's path. */
  brokenDir: string;
  stop(): Promise<void>;
}

/** Starts quayside with e2e as a superuser and the two storage locations `good` (preferred) and `broken`. */
export async function startAdminServer(): Promise<AdminServer> {
  const work = await mkdtemp(join(tmpdir(), 'quayside-web-admin-'));
  const goodDir = join(work, 'good');
  await writeFile(join(work, 'a-file'), 'a file, not a directory');
  const brokenDir = join(work, 'a-file', 'storage');
  const config = join(work, 'config.yaml');
  await writeFile(
    config,
    `DB_URI: sqlite:///${join(work, 'quayside.db')}
SUPER_USERS: [${E2E_USER.username}]
DISTRIBUTED_STORAGE_CONFIG:
  good: [LocalStorage, {storage_path: ${goodDir}}]
  broken: [LocalStorage, {storage_path: ${brokenDir}}]
DISTRIBUTED_STORAGE_PREFERENCE: [good]
`,
  );
  const server = await startQuayside({ user: E2E_USER, config });
  return {
    server,
    goodDir,
    brokenDir,
    stop: async () => {
      await server.stop();
      await rm(work, { recursive: true, force: true });
    },
  };
}

/** Signs in on the page's sign-in form and waits for the signed-in header. */
export async function signInOnPage(page: Page, user: Credentials): Promise<void> {
  await page.goto('/signin');
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Calls /api/v1 from the test with the browser's session cookie (as JSON, which the cross-site guard wants). */
export async function apiWithSession(server: RegistryServer, context: BrowserContext, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const cookies = await context.cookies(server.url);
  const session = cookies.find((cookie) => cookie.name === 'quayside_session');
  assert.ok(session, 'the browser holds a session cookie');
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { cookie: `${session.name}=${session.value}`, 'content-type': 'application/json', accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
}
