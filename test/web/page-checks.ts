// Small checks the browser tests share: signing in on the page, API calls with the page's session, what sticks out past a phone's width, and
// screenshots into an ignored folder for a person to look at.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { APIRequestContext, Page } from 'playwright-core';
import { REPO_ROOT, type Credentials } from '../helpers/processes.js';

/** Where the tests save screenshots: .tmp/ is ignored by git, never committed. */
export const SCREENSHOT_ROOT = join(REPO_ROOT, '.tmp', 'web-screenshots');

/** Signs in through the sign-in form and waits for the signed-in header. */
export async function signIn(page: Page, user: Credentials): Promise<void> {
  await page.goto('/signin');
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/**
 * Elements whose right edge is past the window, outside of a horizontally scrolling box (a wide table may
 * scroll inside its .scroll box; the page itself must not).
 */
export async function elementsPastTheEdge(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('body *')]
      .filter((element) => (element.parentElement?.closest('.scroll') ?? null) === null && element.getBoundingClientRect().right > window.innerWidth + 1)
      .map((element) => `${element.tagName.toLowerCase()}.${element.className}`),
  );
}

/** A function saving full-page screenshots of `page` under SCREENSHOT_ROOT/<folder>/<name>.png. */
export async function screenshotter(page: Page, folder: string): Promise<(name: string) => Promise<void>> {
  const dir = join(SCREENSHOT_ROOT, folder);
  await mkdir(dir, { recursive: true });
  return async (name) => {
    await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
  };
}

/** A JSON call with the page's own session (as the UI makes it); asserts success and returns the body. */
export async function call(request: APIRequestContext, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await request.fetch(`/api/v1${path}`, { method, ...(body === undefined ? {} : { data: body, headers: { 'content-type': 'application/json' } }) });
  assert.ok(response.ok(), `${method} ${path}: ${response.status()} ${await response.text()}`);
  const text = await response.text();
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}
