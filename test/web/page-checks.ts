// Small checks the browser tests share: signing in on the page, what sticks out past a phone's width, and
// screenshots into an ignored folder for a person to look at.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
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
