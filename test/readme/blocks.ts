// Reading README blocks and running them as written: exact substitutions that fail when the README text they
// replace is gone, and a runner that answers login prompts on a terminal and stops what the block left running.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

/** The README's fenced blocks of one language (`sh`, `yaml`), their text without the fences. */
export async function readmeBlocks(language: string): Promise<string[]> {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((match) => match[1]!.trimEnd());
}

/** The one block starting as `start` matches; fails when none or several do. */
export function blockStarting(blocks: string[], start: RegExp): string {
  const found = blocks.filter((block) => start.test(block));
  assert.equal(found.length, 1, `expected one README block matching ${start}, found ${found.length}`);
  return found[0]!;
}

/** Replaces each README text by the test's value; a text that no longer occurs fails (the README changed). */
export function substitute(block: string, replacements: readonly (readonly [string, string])[]): string {
  let script = block;
  for (const [readmeText, value] of replacements) {
    assert.ok(script.includes(readmeText), `the README block no longer contains ${JSON.stringify(readmeText)}:\n${block}`);
    script = script.replaceAll(readmeText, value);
  }
  return script;
}

export interface PromptedRun {
  /** The block's exit status. */
  code: number | null;
  /** Everything the block and what it started printed so far. */
  output(): Promise<string>;
  /** Stops every process the block left running (its process group): TERM, then KILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Runs a block with `bash -euo pipefail` under test/helpers/answer-prompts.py: stdin is a terminal, so login
 * commands that ask for a password work; "Username: " gets `username`, "Password: " gets `password` (empty:
 * the password the block itself printed). Resolves when the block exits; background jobs keep running.
 */
export async function runAnsweringPrompts(
  script: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; username: string; password: string; timeoutMs: number },
): Promise<PromptedRun> {
  const log = join(options.cwd, `block-${Date.now()}.log`);
  const driver = spawn('python3', [join(REPO_ROOT, 'test/helpers/answer-prompts.py'), log, script, options.username, options.password], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let firstLine = '';
  driver.stdout.setEncoding('utf8').on('data', (chunk: string) => (firstLine += chunk));
  const timer = setTimeout(() => driver.kill('SIGKILL'), options.timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    driver.on('error', reject);
    driver.on('exit', (status) => resolve(status));
  });
  clearTimeout(timer);
  const group = Number.parseInt(firstLine, 10);
  const alive = () => {
    if (!Number.isInteger(group) || group <= 0) return false;
    try {
      process.kill(-group, 0);
      return true;
    } catch {
      return false;
    }
  };
  return {
    code,
    output: () => readFile(log, 'utf8').catch(() => ''),
    async stop(graceMs = 20_000) {
      if (!alive()) return;
      process.kill(-group, 'SIGTERM');
      try {
        await waitUntil('the block\'s processes to stop', () => !alive(), graceMs, 100);
      } catch {
        if (alive()) process.kill(-group, 'SIGKILL');
        await waitUntil('the block\'s processes to die', () => !alive(), 10_000, 100);
      }
    },
  };
}
