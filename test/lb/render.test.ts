// Golden-file tests of the renderer: each fixture model (test/lb/fixtures/models/*.yaml) renders to exactly
// test/lb/golden/<name>.cfg (UPDATE_GOLDEN=1 rewrites them), and every rendering passes `haproxy -dW -c`
// (no warnings but unresolvable test host names) with its certificate files written to a temporary directory.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { certificateFiles, formatDuration, quoteArg, render } from '../../src/lb/render.js';
import type { LoadBalancerModel, RenderPaths } from '../../src/lb/model.js';
import { loadYamlFile } from '../../src/lb/sources/yaml-file.js';
import { buildModel } from '../../src/lb/validate.js';
import { REPO_ROOT, requireCommand } from '../helpers/processes.js';

const run = promisify(execFile);
const FIXTURES = join(REPO_ROOT, 'test/lb/fixtures/models');
const GOLDEN = join(REPO_ROOT, 'test/lb/golden');
const GOLDEN_PATHS: RenderPaths = { adminSocket: '/run/quayside-lb/admin.sock', certDir: '/etc/quayside-lb/certs' };

async function fixtureModel(file: string): Promise<LoadBalancerModel> {
  return buildModel(await loadYamlFile(join(FIXTURES, file)));
}

/** `haproxy -dW -c` on the rendering of `model` with every referenced file in a temporary directory. */
async function haproxyCheck(model: LoadBalancerModel, extra: Partial<RenderPaths> = {}): Promise<void> {
  const haproxy = requireCommand('haproxy', 'apt-get install haproxy');
  const dir = await mkdtemp(join(tmpdir(), 'quayside-render-'));
  try {
    const paths: RenderPaths = { adminSocket: join(dir, 'admin.sock'), certDir: join(dir, 'certs'), ...extra };
    for (const file of certificateFiles(model, paths)) {
      await mkdir(dirname(file.path), { recursive: true });
      await writeFile(file.path, file.contents, { mode: file.mode });
    }
    const cfg = join(dir, 'haproxy.cfg');
    await writeFile(cfg, render(model, paths));
    let output: string;
    try {
      const result = await run(haproxy, ['-c', '-f', cfg]);
      output = `${result.stdout}${result.stderr}`;
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string };
      assert.fail(`haproxy -c refused the configuration:\n${e.stdout ?? ''}${e.stderr ?? ''}\n${render(model, paths)}`);
    }
    // Zero warnings, except that a backend host name the test machine cannot resolve starts disabled
    // (`init-addr last,libc,none`): that is the intended behaviour, not a configuration problem.
    const warnings = output.split('\n').filter((line) => line.includes('[WARNING]') && !line.includes('could not resolve address'));
    assert.deepEqual(warnings, [], `haproxy -c warned:\n${output}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('render: golden files', async () => {
  const fixtures = (await readdir(FIXTURES)).filter((f) => f.endsWith('.yaml')).sort();
  it('has at least 8 representative models', () => assert.ok(fixtures.length >= 8, fixtures.join(', ')));

  for (const fixture of fixtures) {
    const name = fixture.replace(/\.yaml$/, '');
    it(`${name}: matches golden/${name}.cfg`, async () => {
      const text = render(await fixtureModel(fixture), GOLDEN_PATHS);
      const goldenPath = join(GOLDEN, `${name}.cfg`);
      if (process.env.UPDATE_GOLDEN === '1') await writeFile(goldenPath, text);
      assert.equal(text, await readFile(goldenPath, 'utf8'));
    });
    it(`${name}: passes haproxy -c without warnings`, async () => {
      await haproxyCheck(await fixtureModel(fixture));
    });
  }
});

describe('render: properties', () => {
  it('is deterministic whatever the order of services', async () => {
    const model = await fixtureModel('07-routing-priority.yaml');
    const reversed: LoadBalancerModel = { ...model, services: [...model.services].reverse() };
    assert.equal(render(reversed, GOLDEN_PATHS), render(model, GOLDEN_PATHS));
  });

  it('writes certificate files with mode 0600, first certificate first', async () => {
    const model = await fixtureModel('03-tls-sni.yaml');
    const files = certificateFiles(model, GOLDEN_PATHS);
    assert.deepEqual(files.map((f) => f.path), ['/etc/quayside-lb/certs/00-a-test.pem', '/etc/quayside-lb/certs/01-b-test.pem']);
    assert.ok(files.every((f) => f.mode === 0o600 && f.contents.includes('PRIVATE KEY')));
    const text = render(model, GOLDEN_PATHS);
    assert.match(text, /bind 127.0.0.1:8443 ssl crt \/etc\/quayside-lb\/certs\/00-a-test\.pem crt \/etc\/quayside-lb\/certs\/01-b-test\.pem alpn/);
  });

  it('puts the https redirect before basic auth in the backend', async () => {
    const text = render(await fixtureModel('04-basic-auth.yaml'), GOLDEN_PATHS);
    const redirect = text.indexOf('http-request redirect scheme https');
    const auth = text.indexOf('http-request auth realm admin');
    assert.ok(redirect > 0 && auth > redirect, 'redirect must precede auth');
  });

  it('orders routes host+path, host (exact, then longer wildcards), path (longest first), default', async () => {
    const text = render(await fixtureModel('07-routing-priority.yaml'), GOLDEN_PATHS);
    const order = [...text.matchAll(/^ {4}(use_backend|default_backend) (\S+)/gm)].map((m) => m[2]);
    assert.deepEqual(order, ['be_www-api', 'be_www-api', 'be_www', 'be_eu-tenants', 'be_tenants', 'be_static-images', 'be_static', 'be_default-site']);
  });

  it('passes haproxy -c with a server-state file and pid file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quayside-state-'));
    try {
      const state = join(dir, 'state');
      await writeFile(state, '1\n# be_id be_name srv_id srv_name srv_addr\n');
      await haproxyCheck(await fixtureModel('08-cookies-checks-slots.yaml'), { serverStateFile: state, pidFile: join(dir, 'pid') });
      assert.ok((await stat(state)).isFile());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('quotes arguments safely and formats durations exactly', () => {
    assert.equal(quoteArg('/api'), '/api');
    assert.equal(quoteArg('a b'), "'a b'");
    assert.equal(quoteArg(`it's $x`), '"it\'s \\$x"');
    assert.equal(formatDuration(30_000), '30s');
    assert.equal(formatDuration(120_000), '2m');
    assert.equal(formatDuration(7_200_000), '2h');
    assert.equal(formatDuration(1_500), '1500ms');
    assert.equal(formatDuration(0), '0ms');
  });
});
