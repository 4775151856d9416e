// One real headless Chromium (Debian's, driven by playwright-core) per test file, with a fresh profile. The
// flags keep it from reaching out on its own (sync, component updates, QUIC): on our machines those
// connections are refused many at a time and slow every page down.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { requireCommand } from '../helpers/processes.js';

export const CHROMIUM = '/usr/bin/chromium';

export interface TestBrowser {
  /** The browser's one context (playwright's persistent context over the fresh profile); open pages on it. */
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches Chromium with a new empty user-data-dir (playwright passes it as --user-data-dir itself); close()
 * removes it. Fails loudly when Chromium is missing.
 */
export async function launchBrowser(baseURL: string): Promise<TestBrowser> {
  requireCommand('chromium', 'apt-get install chromium (scripts/test.sh installs it)');
  const profile = await mkdtemp(join(tmpdir(), 'quayside-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    baseURL,
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
