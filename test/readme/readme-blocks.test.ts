// Every ```sh block of the README is accounted for: the account and robot-for-CI blocks are run as written
// (in order, against a real `quayside serve`, only 127.0.0.1:5000 replaced by the server's free port); the
// others are listed below with the test that runs them or why none does. A block added or changed without
// updating this list fails here.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT, requireCommand, startQuayside, type RegistryServer } from '../helpers/processes.js';

const exec = promisify(execFile);

/** Blocks checked elsewhere or not run, by their exact text. */
const NOT_RUN_HERE: Record<string, string> = {
  'npm ci && npm start': 'npm ci would replace the shared node_modules; `npm start` is `quayside serve`, run by test/cli/serve.test.ts',
  'npm ci && npm test': 'the whole suite itself',
  'npm ci && npm install -g .': 'test/readme/global-install.test.ts installs exactly so into a temporary prefix',
};

/** Blocks not run by any test yet (reported to the lead, not hidden). */
const NOT_RUN_YET = [/^podman login /, /^cat > registry\.yaml <<'YAML'/];

function shBlocks(readme: string): string[] {
  return [...readme.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1]!.trimEnd());
}

describe('README sh blocks', () => {
  let work: string;
  let server: RegistryServer;
  let blocks: string[];
  before(async () => {
    await requireCommand('curl');
    await requireCommand('jq');
    await requireCommand('skopeo');
    blocks = shBlocks(await readFile(join(REPO_ROOT, 'README.md'), 'utf8'));
    work = await mkdtemp(join(tmpdir(), 'quayside-readme-'));
    // The blocks say `node bin/quayside.js`, as from the checkout; cookies.txt and the like land in `work`.
    await symlink(join(REPO_ROOT, 'bin'), join(work, 'bin'), 'dir');
    server = await startQuayside({ dataDir: join(work, 'data'), user: false });
  });
  after(async () => {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('every block is run below, run by another test, or listed as not run yet', () => {
    for (const block of blocks) {
      const known = block in NOT_RUN_HERE || NOT_RUN_YET.some((re) => re.test(block)) || RUN_HERE.some((re) => re.test(block));
      assert.ok(known, `a README sh block no test accounts for:\n${block}`);
    }
    assert.equal(blocks.length, Object.keys(NOT_RUN_HERE).length + NOT_RUN_YET.length + RUN_HERE.length);
  });

  it('the account blocks and the robot-for-CI block run as written, in order', async () => {
    for (const pattern of RUN_HERE) {
      const block = blocks.find((candidate) => pattern.test(candidate));
      assert.ok(block, `no README block matches ${pattern}`);
      const script = block.replaceAll('127.0.0.1:5000', server.hostPort);
      const env = { ...process.env, QUAYSIDE_DATA_DIR: join(work, 'data'), REGISTRY_AUTH_FILE: join(work, 'auth.json') };
      try {
        const { stdout } = await exec('bash', ['-euo', 'pipefail', '-c', script], { cwd: work, env, timeout: 120_000 });
        if (pattern === RUN_HERE[1]) assert.match(stdout, /Login Succeeded!/);
      } catch (error) {
        const failed = error as { stdout?: string; stderr?: string };
        assert.fail(`README block failed:\n${block}\n--- stdout ---\n${failed.stdout ?? ''}\n--- stderr ---\n${failed.stderr ?? String(error)}`);
      }
    }
  });
});

/** The blocks this file runs, in README order (the second needs the users the first makes). */
const RUN_HERE = [/^node bin\/quayside\.js user create admin /, /^node bin\/quayside\.js org create acme /];
