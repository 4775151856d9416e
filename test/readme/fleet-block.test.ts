// The README's "several registry instances behind the balancer" blocks run as written: the lb.yaml block, then
// the fleet block (two `quayside serve` on one PostgreSQL database and one storage, `quayside lb run`, a user,
// skopeo login at the password prompt and a push through the balancer). Only what must differ here is replaced,
// each by the exact README text in the lists below, so a changed block fails until its list is updated.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { buildUmociImage, type LayoutImage } from '../helpers/oci-images.js';
import { freePort, quaysideCli, requireCommand, skopeo } from '../helpers/processes.js';
import { blockStarting, readmeBlocks, runAnsweringPrompts, substitute, type PromptedRun } from './blocks.js';

describe('README: several registry instances behind the balancer', () => {
  let work: string;
  let database: FreshDatabase;
  let image: LayoutImage;
  let env: NodeJS.ProcessEnv;
  const runs: PromptedRun[] = [];
  before(async () => {
    for (const command of ['python3', 'openssl', 'curl', 'skopeo', 'haproxy', 'umoci']) requireCommand(command);
    work = await mkdtemp(join(tmpdir(), 'quayside-readme-fleet-'));
    database = await freshDatabase('postgres', { migrate: false });
    image = await buildUmociImage(join(work, 'layout'), 'latest');
    // `quayside` on the PATH, as `npm install -g .` would put it (test/readme/global-install.test.ts checks that).
    const bin = join(work, 'path-bin');
    await mkdir(bin);
    await writeFile(join(bin, 'quayside'), `#!/bin/sh\nexec '${process.execPath}' '${quaysideCli()}' "$@"\n`);
    await chmod(join(bin, 'quayside'), 0o755);
    env = { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`, REGISTRY_AUTH_FILE: join(work, 'auth.json') };
  });
  after(async () => {
    for (const run of runs) await run.stop();
    await database?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the lb.yaml block and the fleet block run as written and push through the balancer', async () => {
    const blocks = await readmeBlocks('sh');
    const [lbPort, statsPort, instance1, instance2] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const storage = join(work, 'storage');
    // Fixed ports become free ones, the README's database a fresh one, its storage path a temp dir.
    const lbYamlBlock = substitute(blockStarting(blocks, /^cat > lb\.yaml <<YAML\n/), [
      ['http_ports: [8080]', `http_ports: [${lbPort}]`],
      ['stats: { port: 9000,', `stats: { port: ${statsPort},`],
      ['port: 5001 }', `port: ${instance1} }`],
      ['port: 5002 }', `port: ${instance2} }`],
    ]);
    const fleetBlock = substitute(blockStarting(blocks, /^cat > registry\.yaml <<'YAML'\n/), [
      ['postgresql://postgres@127.0.0.1:5432/quayside', database.uri],
      ['/var/lib/quayside/storage', storage],
      ['--port 5001 &', `--port ${instance1} &`],
      ['--port 5002 &', `--port ${instance2} &`],
      // Its status port defaults to the fixed 9101; 0 lets the kernel choose.
      ['quayside lb run --config lb.yaml &', 'quayside lb run --config lb.yaml --status-port 0 &'],
      ['127.0.0.1:8080', `127.0.0.1:${lbPort}`],
    ]);

    const lbYaml = await runAnsweringPrompts(lbYamlBlock, { cwd: work, env, username: '', password: '', timeoutMs: 30_000 });
    runs.push(lbYaml);
    assert.equal(lbYaml.code, 0, `the lb.yaml block failed:\n${await lbYaml.output()}`);

    // The block asks for the password `quayside user create` printed: answered with that one.
    const fleet = await runAnsweringPrompts(fleetBlock, { cwd: work, env, username: 'team', password: '', timeoutMs: 300_000 });
    runs.push(fleet);
    const output = await fleet.output();
    assert.equal(fleet.code, 0, `the fleet block failed:\n${output}`);
    assert.match(output, /^password: \S+$/m);
    assert.match(output, /Login Succeeded!/);

    // What went through the balancer is there: the pushed manifest, by digest.
    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', '--authfile', join(work, 'auth.json'), `docker://127.0.0.1:${lbPort}/team/app:latest`]).catch(
      async (error: unknown) => assert.fail(`${String(error)}\n--- the block's output ---\n${await fleet.output()}`),
    );
    const inspected = JSON.parse(raw) as { layers?: unknown[] };
    assert.equal(inspected.layers?.length, (JSON.parse(image.manifestBytes.toString('utf8')) as { layers: unknown[] }).layers.length);
  });
});
