// Every ```sh block of the README is accounted for: the account, login-and-push (podman, skopeo, docker) and
// robot-for-CI blocks are run as written (in order, against a real `quayside serve`, only 127.0.0.1:5000 replaced
// by the server's free port, passwords typed at the prompts); the fleet and lb.yaml blocks by
// test/readme/fleet-block.test.ts; the others are listed below with the test that runs them or why none does. A
// block added or changed without updating this list fails here.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startPrivateDockerd } from '../helpers/dockerd.js';
import { buildUmociImage } from '../helpers/oci-images.js';
import { REPO_ROOT, requireCommand, skopeo, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { blockStarting, readmeBlocks, runAnsweringPrompts, substitute } from './blocks.js';

const exec = promisify(execFile);

/** Blocks checked elsewhere or not run, by their exact text. */
const NOT_RUN_HERE: Record<string, string> = {
  'npm ci && npm start': 'npm ci would replace the shared node_modules; `npm start` is `quayside serve`, run by test/cli/serve.test.ts',
  'npm ci && npm test': 'the whole suite itself',
  'npm ci && npm install -g .': 'test/readme/global-install.test.ts installs exactly so into a temporary prefix',
};

/** Blocks run by test/readme/fleet-block.test.ts. */
const RUN_BY_FLEET_TEST = [/^mkdir -p conf\n/, /^cat > lb\.yaml <<YAML\n/];

/** Blocks not run by any test yet (reported to the lead, not hidden). */
const NOT_RUN_YET: RegExp[] = [];

describe('README sh blocks', () => {
  let work: string;
  let server: RegistryServer;
  let blocks: string[];
  let image: { layers: number };
  before(async () => {
    await requireCommand('curl');
    await requireCommand('jq');
    await requireCommand('skopeo');
    await requireCommand('python3');
    blocks = await readmeBlocks('sh');
    work = await mkdtemp(join(tmpdir(), 'quayside-readme-'));
    // The blocks say `node bin/quayside.js`, as from the checkout; cookies.txt and the like land in `work`.
    await symlink(join(REPO_ROOT, 'bin'), join(work, 'bin'), 'dir');
    server = await startQuayside({ dataDir: join(work, 'data'), user: false });
    const layout = await buildUmociImage(join(work, 'layout'), 'latest');
    image = { layers: (JSON.parse(layout.manifestBytes.toString('utf8')) as { layers: unknown[] }).layers.length };
  });
  after(async () => {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('every block is run below, run by another test, or listed as not run yet', () => {
    for (const block of blocks) {
      const patterns = [...NOT_RUN_YET, ...RUN_HERE, ...PROMPTED_HERE.map((entry) => entry.start), ...RUN_BY_FLEET_TEST];
      const known = block in NOT_RUN_HERE || patterns.some((re) => re.test(block));
      assert.ok(known, `a README sh block no test accounts for:\n${block}`);
    }
    assert.equal(
      blocks.length,
      Object.keys(NOT_RUN_HERE).length + NOT_RUN_YET.length + RUN_HERE.length + PROMPTED_HERE.length + RUN_BY_FLEET_TEST.length,
    );
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

  /** Runs a PROMPTED_HERE block with alice typing her name and password, and checks what it pushed. */
  async function runPromptedBlock(entry: (typeof PROMPTED_HERE)[number], env: NodeJS.ProcessEnv): Promise<void> {
    const block = blockStarting(blocks, entry.start);
    const script = substitute(block, [['127.0.0.1:5000', server.hostPort]]);
    const ran = await runAnsweringPrompts(script, { cwd: work, env, username: 'alice', password: 'a-long-passphrase', timeoutMs: 300_000 });
    // Nothing is left running by these blocks; stop() only guards against a stray process.
    await ran.stop();
    const output = await ran.output();
    assert.equal(ran.code, 0, `README block failed:\n${block}\n--- output ---\n${output}`);
    assert.equal(output.match(/Login Succeeded!?/g)?.length, entry.logins, output);
    const manifest = JSON.parse(
      await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', 'alice:a-long-passphrase', `docker://${server.hostPort}/alice/app:latest`]),
    ) as { layers?: unknown[] };
    assert.equal(manifest.layers?.length, image.layers, 'the pushed image has the layout\'s layers');
  }

  it('the podman and skopeo login-and-push block runs as written, the password typed at each prompt', async () => {
    requireCommand('podman', 'apt-get install podman');
    // Podman as root without systemd: its own vfs storage, cgroupfs and the file events logger, by config files.
    const storageConf = join(work, 'storage.conf');
    await writeFile(storageConf, `[storage]\ndriver = "vfs"\ngraphroot = "${join(work, 'podman-root')}"\nrunroot = "${join(work, 'podman-run')}"\n`);
    const containersConf = join(work, 'containers.conf');
    await writeFile(containersConf, '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
    const authFile = join(work, 'podman-auth.json');
    await writeFile(authFile, '{"auths":{}}\n');
    const env = { ...process.env, CONTAINERS_STORAGE_CONF: storageConf, CONTAINERS_CONF: containersConf, REGISTRY_AUTH_FILE: authFile };
    // "then push as usual": alice has the image alice/app:latest locally (the layout's image).
    const local = 'containers-storage:localhost/alice/app:latest';
    await exec('skopeo', ['--insecure-policy', 'copy', `oci:${join(work, 'layout')}:latest`, local], { env, timeout: 120_000 });
    await runPromptedBlock(PROMPTED_HERE[0], env);
    assert.ok(existsSync(join(work, 'podman-root', 'vfs')), 'podman used the storage of this test');
  });

  it('the docker login-and-push block runs as written against a private dockerd', async () => {
    const daemon = await startPrivateDockerd();
    try {
      const env = { ...process.env, DOCKER_HOST: daemon.host, DOCKER_CONFIG: await mkdtemp(join(work, 'docker-config-')) };
      // The image the block pushes, loaded into the daemon under that name.
      await skopeo(['copy', '--dest-daemon-host', daemon.host, `oci:${join(work, 'layout')}:latest`, `docker-daemon:${server.hostPort}/alice/app:latest`]);
      await runPromptedBlock(PROMPTED_HERE[1], env);
    } finally {
      await daemon.stop();
    }
  });
});

/** The blocks this file runs, in README order (the second needs the users the first makes). */
const RUN_HERE = [/^node bin\/quayside\.js user create admin /, /^node bin\/quayside\.js org create acme /];

/** The blocks that ask for alice's username and password (her account is made by the first RUN_HERE block). */
const PROMPTED_HERE = [
  { start: /^podman login --tls-verify=false 127\.0\.0\.1:5000 /, logins: 2 },
  { start: /^docker login 127\.0\.0\.1:5000 /, logins: 1 },
] as const;
