// The README's way to put `quayside` on the PATH, done for real into a temporary prefix: `npm ci` in a
// checkout, then `npm install -g .`; and what a fresh clone without `npm ci` gets instead (one clear line).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/processes.js';

const exec = promisify(execFile);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without the npm_* variables of an enclosing `npm test` (they would redirect a nested npm). */
async function runClean(command: string, args: string[], cwd: string): Promise<Outcome> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
  try {
    const { stdout, stderr } = await exec(command, args, { cwd, env, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? String(error) };
  }
}

/** A copy of the checkout's files as git sees them (tracked and new, not ignored): what a clone holds. */
async function copyCheckout(to: string): Promise<void> {
  const { stdout } = await exec('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
  for (const file of stdout.split('\0').filter((name) => name !== '')) {
    await mkdir(dirname(join(to, file)), { recursive: true });
    await cp(join(REPO_ROOT, file), join(to, file), { errorOnExist: false }).catch((error: NodeJS.ErrnoException) => {
      // A file deleted in the work tree but still tracked is simply not part of the copy.
      if (error.code !== 'ENOENT') throw error;
    });
  }
}

describe('npm install -g . (README: Several registry instances)', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'quayside-global-install-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('after npm ci, installs a quayside command that runs from the prefix', async () => {
    const checkout = join(work, 'checkout');
    await copyCheckout(checkout);
    // Stands for `npm ci` (this machine reaches no package mirror for the native modules): the checkout's own
    // installed dependencies, exactly those of package-lock.json.
    await symlink(await realpath(join(REPO_ROOT, 'node_modules')), join(checkout, 'node_modules'), 'dir');
    const prefix = join(work, 'prefix');
    const installed = await runClean('npm', ['install', '-g', '--prefix', prefix, '.'], checkout);
    assert.equal(installed.code, 0, `${installed.stdout}\n${installed.stderr}`);
    assert.doesNotMatch(installed.stderr, /EBADENGINE/);

    const help = await runClean(join(prefix, 'bin', 'quayside'), ['--help'], work);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^usage: quayside <command> \[options\]$/m);
    assert.match(help.stdout, /^ {2}serve /m);
    // prepare also built the web UI, so the installed command serves it (docs/web-ui.md).
    assert.ok(existsSync(join(checkout, 'dist', 'web', 'index.html')), `npm install -g . built the web UI into dist/web: ${installed.stdout}`);
    const serveHelp = await runClean(join(prefix, 'bin', 'quayside'), ['serve', '--help'], work);
    assert.equal(serveHelp.code, 0, serveHelp.stderr);
    assert.match(serveHelp.stdout, /^usage: quayside serve/);
  });

  it('on a clone without npm ci, fails with one line saying to run npm ci first', async () => {
    const checkout = join(work, 'fresh-clone');
    await copyCheckout(checkout);
    const prefix = join(work, 'prefix-fresh');
    const installed = await runClean('npm', ['install', '-g', '--prefix', prefix, '.'], checkout);
    assert.notEqual(installed.code, 0, installed.stdout);
    assert.match(installed.stderr, /quayside: this checkout has no dependencies installed: run `npm ci` in it first, then `npm install -g \.`/);
    assert.doesNotMatch(installed.stderr, /tsc: not found/);
  });
});
