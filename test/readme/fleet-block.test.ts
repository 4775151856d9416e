// The README's "several registry instances behind the balancer" blocks run as written: the lb.yaml block, then
// the fleet block (a CA and a certificate made with openssl, two `quayside serve --config-dir` with PROXY ports
// terminating TLS on one PostgreSQL database and one storage, `quayside lb run` forwarding TCP with PROXY v2,
// curl's /v1/_ping check, a user, skopeo login at the password prompt and a push through the balancer, all
// trusting the CA). Only what must differ here is replaced, each by the exact README text in the lists below,
// so a changed block fails until its list is updated.
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
    // Both instances listen on one port, each on its own loopback address, as the README has them.
    const [lbPort, statsPort, proxyPort] = [await freePort(), await freePort(), await freePort()];
    const registry = `localhost:${lbPort}`;
    const storage = join(work, 'storage');
    // Fixed ports become free ones, the README's database a fresh one, its storage path a temp dir.
    const lbYamlBlock = substitute(blockStarting(blocks, /^cat > lb\.yaml <<YAML\n/), [
      ['stats: { port: 9000,', `stats: { port: ${statsPort},`],
      ['external_port: 443 ', `external_port: ${lbPort} `],
      ['port: 8443 }', `port: ${proxyPort} }`],
    ]);
    const fleetBlock = substitute(blockStarting(blocks, /^mkdir -p conf\n/), [
      ['postgresql://postgres@127.0.0.1:5432/quayside', database.uri],
      ['/var/lib/quayside/storage', storage],
      ['SERVER_HOSTNAME: localhost', `SERVER_HOSTNAME: ${registry}`],
      ['--proxy-port 8443 &', `--proxy-port ${proxyPort} &`],
      // Its status port defaults to the fixed 9101; 0 lets the kernel choose.
      ['quayside lb run --config lb.yaml &', 'quayside lb run --config lb.yaml --status-port 0 &'],
      ['--resolve localhost:8443:$instance https://localhost:8443/v1/_ping', `--resolve localhost:${proxyPort}:$instance https://localhost:${proxyPort}/v1/_ping`],
      ['https://localhost/', `https://${registry}/`],
      ['-u team localhost', `-u team ${registry}`],
      ['docker://localhost/', `docker://${registry}/`],
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
    // Seed 000's check answered through the balancer.
    assert.match(output, /^true/m);

    // What went through the balancer is there: the pushed manifest, by digest, over TLS verified by the CA.
    const raw = await skopeo(['inspect', '--raw', '--cert-dir', join(work, 'certs.d'), '--authfile', join(work, 'auth.json'), `docker://${registry}/team/app:latest`]).catch(
      async (error: unknown) => assert.fail(`${String(error)}\n--- the block's output ---\n${await fleet.output()}`),
    );
    const inspected = JSON.parse(raw) as { layers?: unknown[] };
    assert.equal(inspected.layers?.length, (JSON.parse(image.manifestBytes.toString('utf8')) as { layers: unknown[] }).layers.length);
  });
});
