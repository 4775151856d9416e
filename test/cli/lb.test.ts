// `quayside lb` through the built binary: usage and argument errors, validate/render on good and bad YAML
// (one readable line per problem naming the file and the key, never a stack), status against nobody, and a
// real `lb run` that carries traffic, reports its backend and stops cleanly on SIGTERM.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertOneLineFailure, runQuayside } from '../helpers/cli.js';
import { startHttpBackend } from '../helpers/backends.js';
import { backendOf, get, requireLbTools, tempDir, waitFor } from '../helpers/haproxy.js';
import { freePort, quaysideCli, REPO_ROOT, requireCommand, run, startProcess, type RunResult } from '../helpers/processes.js';

const FIXTURES = join(REPO_ROOT, 'test', 'lb', 'fixtures', 'models');

let work: string;
let removeWork: () => Promise<void>;
before(async () => {
  requireLbTools();
  // Short path: the state dirs made under it hold UNIX sockets (107-byte limit).
  const dir = await tempDir('qlb-cli-');
  work = dir.path;
  removeWork = dir.remove;
});
after(() => removeWork());

/** Runs the built CLI in the temp dir. */
function quayside(...args: string[]): Promise<RunResult> {
  return runQuayside(work, ...args);
}

/** Writes `text` to `name` in the temp dir and returns its absolute path. */
async function file(name: string, text: string): Promise<string> {
  const path = join(work, name);
  await writeFile(path, text);
  return path;
}

/** A plain http model: one service `web` on `backendPort`, frontend on `frontendPort`. */
function goodYaml(frontendPort: number, backendPort: number, extra = ''): string {
  return [
    'load_balancer:',
    '  bind_address: 127.0.0.1',
    `  http_ports: [${frontendPort}]`,
    'services:',
    '  web:',
    '    mode: http',
    '    balance: roundrobin',
    `    internal_port: ${backendPort}`,
    '    backends: [127.0.0.1]',
    extra,
  ].join('\n');
}

/**
 * Bad configuration: non-zero exit, no stack trace, every stderr line names the file, and each pattern matches
 * some line. Returns the lines.
 */
function assertConfigFailure(result: RunResult, path: string, ...patterns: RegExp[]): string[] {
  const detail = `exit ${result.code}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
  assert.ok(result.code !== 0 && result.code !== null, detail);
  assert.ok(!result.stderr.includes('    at '), `stack trace on stderr: ${detail}`);
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  assert.ok(lines.length > 0, `nothing on stderr: ${detail}`);
  for (const line of lines) assert.ok(line.includes(`${path}: `), `line does not name ${path}: ${line}`);
  for (const pattern of patterns) assert.ok(lines.some((line) => pattern.test(line)), `no line matches ${String(pattern)}: ${detail}`);
  assert.doesNotMatch(result.stdout, /^valid/m, detail);
  return lines;
}

/** Runs `haproxy -c -f` on a file; returns its result. */
function haproxyCheck(cfg: string): Promise<RunResult> {
  return run(requireCommand('haproxy', 'apt-get install haproxy'), ['-c', '-f', cfg], { timeoutMs: 20_000 });
}

/** True while a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('quayside lb (usage and arguments)', () => {
  it('with no subcommand prints the usage and exits 2', async () => {
    const result = await quayside('lb');
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stdout, /^usage: quayside lb <command>/);
    for (const sub of ['run', 'status', 'render', 'validate']) assert.match(result.stdout, new RegExp(`^  ${sub} `, 'm'));
  });

  it('--help, -h and help print the usage and exit 0', async () => {
    for (const flag of ['--help', '-h', 'help']) {
      const result = await quayside('lb', flag);
      assert.equal(result.code, 0, `${flag}: ${result.stderr}`);
      assert.match(result.stdout, /^usage: quayside lb <command>/, flag);
      assert.equal(result.stderr, '', flag);
    }
  });

  it('a subcommand --help exits 0 with the usage', async () => {
    const result = await quayside('lb', 'render', '--help');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^usage: quayside lb/);
  });

  it('refuses an unknown subcommand with one line naming it (exit 2)', async () => {
    assertOneLineFailure(await quayside('lb', 'frobnicate'), 2, /^quayside lb: /, /unknown command "frobnicate"/);
  });

  it('refuses an unknown flag with one line naming the subcommand and the flag (exit 2)', async () => {
    assertOneLineFailure(await quayside('lb', 'render', '--bogus-flag'), 2, /^quayside lb render: /, /--bogus-flag/);
    assertOneLineFailure(await quayside('lb', 'status', '--nope'), 2, /^quayside lb status: /, /--nope/);
  });

  it('refuses a flag that needs a value when none is given (exit 2)', async () => {
    assertOneLineFailure(await quayside('lb', 'validate', '--config'), 2, /^quayside lb validate: /, /--config/);
  });

  it('render, validate and run with neither --config nor --etcd: one line, exit 2', async () => {
    for (const sub of ['render', 'validate', 'run']) {
      assertOneLineFailure(await quayside('lb', sub), 2, /^quayside lb/, /--config FILE/, /--etcd/);
    }
  });

  it('run refuses a bad --status-port and --debounce-ms with one line (exit 2)', async () => {
    const path = await file('args.yaml', goodYaml(await freePort(), 80));
    assertOneLineFailure(await quayside('lb', 'run', '--config', path, '--status-port', '70000'), 2, /status-port/, /"70000"/);
    assertOneLineFailure(await quayside('lb', 'run', '--config', path, '--debounce-ms', 'soon'), 2, /debounce-ms/, /"soon"/);
    assert.ok(!existsSync(join(work, 'quayside-lb', 'haproxy.pid')), 'no HAProxy may start on bad arguments');
  });

  it('status --url of a port nobody listens on: one line saying the controller cannot be reached', async () => {
    const port = await freePort();
    const line = assertOneLineFailure(
      await quayside('lb', 'status', '--url', `http://127.0.0.1:${port}`),
      'non-zero',
      /^quayside lb status: /,
      /cannot reach the controller/,
      new RegExp(`127\\.0\\.0\\.1:${port}`),
    );
    assert.match(line, /ECONNREFUSED/);
  });

  it('status refuses --url together with --state-dir (exit 2)', async () => {
    assertOneLineFailure(await quayside('lb', 'status', '--url', 'http://127.0.0.1:1', '--state-dir', work), 2, /not both/);
  });
});

describe('quayside lb validate / render (good models)', () => {
  it('validate accepts a plain http model: exit 0, says valid, nothing on stderr', async () => {
    const path = await file('good.yaml', goodYaml(await freePort(), 8080));
    const result = await quayside('lb', 'validate', '--config', path);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^valid: 1 services, 1 backends, 0 certificates$/m);
    assert.equal(result.stderr, '');
  });

  it('render prints a haproxy.cfg with the service backend and server lines that haproxy -c accepts', async () => {
    const path = await file('render.yaml', goodYaml(await freePort(), 8080));
    const result = await quayside('lb', 'render', '--config', path, '--state-dir', join(work, 'render-state'));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.match(result.stdout, /^backend be_web\b/m);
    assert.match(result.stdout, /^\s+server \S+ 127\.0\.0\.1:8080\b/m);
    assert.match(result.stdout, /^\s+default_backend be_web$/m);
    assert.ok(result.stdout.includes(join(work, 'render-state', 'admin.sock')), 'render should use the given --state-dir');
    const cfg = await file('render.cfg', result.stdout);
    const check = await haproxyCheck(cfg);
    assert.equal(check.code, 0, `haproxy -c refused the rendered config:\n${check.stdout}${check.stderr}`);
    assert.match(check.stdout + check.stderr, /Configuration file is valid/);
  });

  it('validate reads a certificate given by a path relative to the YAML file', async () => {
    await mkdir(join(work, 'certs'), { recursive: true });
    await copyFile(join(REPO_ROOT, 'test', 'lb', 'fixtures', 'a.test.pem'), join(work, 'certs', 'a.pem'));
    const path = await file('cert-path.yaml', goodYaml(await freePort(), 8080).replace('load_balancer:\n', `load_balancer:\n  https_port: ${await freePort()}\n  certificates: [{ name: a, pem: certs/a.pem }]\n`));
    const result = await quayside('lb', 'validate', '--config', path);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^valid: 1 services, 1 backends, 1 certificates$/m);
  });

  it('a kontena.yml-style stack validates and renders', async () => {
    const path = join(FIXTURES, '02-kontena-stack.yaml');
    const validate = await quayside('lb', 'validate', '--config', path);
    assert.equal(validate.code, 0, validate.stderr);
    assert.match(validate.stdout, /^valid: 3 services, 6 backends/m);
    assert.ok(!validate.stderr.includes('    at '), validate.stderr);

    const rendered = await quayside('lb', 'render', '--config', path, '--state-dir', join(work, 'kontena-state'));
    assert.equal(rendered.code, 0, rendered.stderr);
    for (const backend of ['be_web', 'be_api', 'be_galera']) assert.match(rendered.stdout, new RegExp(`^backend ${backend}\\b`, 'm'));
    assert.match(rendered.stdout, /^\s+server \S+ 10\.1\.0\.5:8080\b/m);
    assert.match(rendered.stdout, /^\s+server \S+ 10\.2\.0\.3:3306\b/m);
    assert.match(rendered.stdout, /^\s+timeout server 2m$/m, 'KONTENA_LB_CUSTOM_SETTINGS of api');
    const check = await haproxyCheck(await file('kontena.cfg', rendered.stdout));
    assert.equal(check.code, 0, `haproxy -c refused the rendered kontena config:\n${check.stdout}${check.stderr}`);
  });
});

describe('quayside lb validate (bad models)', () => {
  const service = (lines: string[]) => ['services:', '  web:', ...lines.map((l) => `    ${l}`)].join('\n');
  const cases: { name: string; yaml: string; patterns: RegExp[] }[] = [
    {
      name: 'invalid YAML syntax',
      yaml: 'services:\n  web: [unclosed\n    internal_port: 80\n',
      patterns: [/: YAML: /, /line \d+, column \d+/],
    },
    {
      name: 'an unknown key',
      yaml: service(['internal_port: 80', 'balanse: roundrobin', 'backends: [127.0.0.1]']),
      patterns: [/: services\.web\.balanse: unknown key$/],
    },
    {
      name: 'a port out of range',
      yaml: service(['internal_port: 70000', 'backends: [127.0.0.1]']),
      patterns: [/: services\.web\.internal_port: .*port/],
    },
    {
      name: 'a bad balance',
      yaml: service(['internal_port: 80', 'balance: random', 'backends: [127.0.0.1]']),
      patterns: [/: services\.web\.balance: must be one of roundrobin, source, leastconn$/],
    },
    {
      name: 'a basic_auth password that is not a crypt hash',
      yaml: service(['internal_port: 80', 'basic_auth: "user alice password plaintext"', 'backends: [127.0.0.1]']),
      patterns: [/: services\.web\.basic_auth: .*alice.*crypt/],
    },
    {
      name: 'two services claiming the same host and path',
      yaml: [
        'services:',
        ...['web', 'web2'].flatMap((name, i) => [
          `  ${name}:`,
          '    internal_port: 80',
          '    virtual_hosts: [a.test]',
          '    virtual_paths: [/api]',
          `    backends: [127.0.0.${i + 1}]`,
        ]),
      ].join('\n'),
      patterns: [/: services\.web2?\.virtual_(hosts|paths): .*web\b.*web2.*a\.test/],
    },
    {
      name: 'stats enabled with no password',
      yaml: ['load_balancer:', '  stats:', '    enabled: true', '    port: 9000', service(['internal_port: 80', 'backends: [127.0.0.1]'])].join('\n'),
      patterns: [/: load_balancer\.stats\.password: .*required/],
    },
    {
      name: 'stats with the README\'s old example password',
      yaml: ['load_balancer:', '  stats: { port: 9000, password: change-me }', service(['internal_port: 80', 'backends: [127.0.0.1]'])].join('\n'),
      patterns: [/: load_balancer\.stats\.password: "change-me" is a well-known example password; choose your own/],
    },
    {
      name: 'a certificate path that does not exist',
      yaml: ['load_balancer:', '  certificates: [{ name: site, pem: certs/site.pem }]', service(['internal_port: 80', 'backends: [127.0.0.1]'])].join('\n'),
      patterns: [/: load_balancer\.certificates\.0\.pem: cannot read certificate file \/\S+\/certs\/site\.pem: ENOENT$/],
    },
  ];

  cases.forEach(({ name, yaml, patterns }, index) => {
    it(`refuses ${name}: non-zero, lines naming the file and the key, no stack`, async () => {
      const path = await file(`bad-${index}.yaml`, yaml);
      const lines = assertConfigFailure(await quayside('lb', 'validate', '--config', path), path, ...patterns);
      // A single problem is a single line; YAML syntax errors may come with a follow-up error.
      if (name !== 'invalid YAML syntax') assert.equal(lines.length, 1, lines.join('\n'));
    });
  });

  it('reports every problem of a file, one line each', async () => {
    const path = await file('two-problems.yaml', service(['internal_port: 70000', 'balance: random', 'backends: [127.0.0.1]']));
    const lines = assertConfigFailure(
      await quayside('lb', 'validate', '--config', path),
      path,
      /: services\.web\.internal_port: /,
      /: services\.web\.balance: /,
    );
    assert.equal(lines.length, 2, lines.join('\n'));
  });

  it('refuses a missing file with one line naming it', async () => {
    const path = join(work, 'no-such-file.yaml');
    assertOneLineFailure(await quayside('lb', 'validate', '--config', path), 'non-zero', new RegExp(`${path.replace(/[.]/g, '\\.')}: `), /ENOENT/);
  });

  it('render of a bad model also fails with one line per problem and prints no config', async () => {
    const path = await file('render-bad.yaml', service(['internal_port: 80', 'balance: random', 'backends: [127.0.0.1]']));
    const result = await quayside('lb', 'render', '--config', path);
    assertOneLineFailure(result, 'non-zero', /services\.web\.balance: /);
    assert.equal(result.stdout, '');
  });
});

describe('quayside lb run', () => {
  it('refuses stats without a password with one line, before starting HAProxy', async () => {
    const stateDir = join(work, 'run-stats');
    const path = await file(
      'run-stats.yaml',
      ['load_balancer:', '  stats:', '    enabled: true', `    port: ${await freePort()}`, 'services:', '  web:', '    internal_port: 80', '    backends: [127.0.0.1]'].join('\n'),
    );
    const result = await quayside('lb', 'run', '--config', path, '--state-dir', stateDir, '--status-port', '0');
    assertOneLineFailure(result, 'non-zero', new RegExp(`${path.replace(/[.]/g, '\\.')}: `), /load_balancer\.stats\.password: /);
    assert.ok(!existsSync(join(stateDir, 'haproxy.pid')), 'HAProxy must not have been started');
    const pgrep = await run('pgrep', ['-f', stateDir]);
    assert.equal(pgrep.code, 1, `processes left for ${stateDir}: ${pgrep.stdout}`);
  });

  it('runs HAProxy, carries traffic, reports the backend in status, and stops on SIGTERM with exit 0', async () => {
    const backend = await startHttpBackend('web-1');
    const frontendPort = await freePort();
    const stateDir = join(work, 'run');
    const path = await file(
      'run.yaml',
      goodYaml(frontendPort, backend.port, '    health_check: { path: /health, interval: 200ms }'),
    );
    const lb = await startProcess({
      command: process.execPath,
      args: [quaysideCli(), 'lb', 'run', '--config', path, '--state-dir', stateDir, '--status-port', '0', '--debounce-ms', '100'],
      cwd: work,
      ready: /"statusPort":(\d+).*quayside lb running/,
      readyTimeoutMs: 20_000,
    });
    let masterPid: number | undefined;
    try {
      const statusPort = Number(lb.readyMatch[1]);
      assert.ok(statusPort > 0, `status port from the log: ${lb.readyMatch[0]}`);
      masterPid = Number((await readFile(join(stateDir, 'haproxy.pid'), 'utf8')).trim().split('\n')[0]);
      assert.ok(alive(masterPid), `HAProxy master ${masterPid} from the pid file is not running`);

      // Traffic through HAProxy reaches the backend.
      const answer = await waitFor('an answer through HAProxy', async () => {
        const result = await get(frontendPort, { path: '/hello' });
        return result.status === 200 ? result : undefined;
      });
      assert.equal(backendOf(answer), 'web-1');
      assert.ok(backend.requests.some((r) => r.path === '/hello'), 'the backend saw the request');

      // Status: the service and its backend, UP once the health check has passed.
      const url = `http://127.0.0.1:${statusPort}`;
      await waitFor(
        'web-1 UP in lb status --json',
        async () => {
          const result = await quayside('lb', 'status', '--url', url, '--json');
          if (result.code !== 0) return undefined;
          const status = JSON.parse(result.stdout) as { services: { name: string; backends: { port: number; status: string }[] }[] };
          const web = status.services.find((s) => s.name === 'web');
          return web?.backends.some((b) => b.port === backend.port && /^UP\b/.test(b.status));
        },
        15_000,
        250,
      );
      const table = await quayside('lb', 'status', '--url', url);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^haproxy running: /);
      assert.match(table.stdout, new RegExp(`^web\\s+\\S+\\s+127\\.0\\.0\\.1:${backend.port}\\s+\\S+\\s+UP\\b`, 'm'));

      // SIGTERM to the CLI alone: it must stop HAProxy itself and exit 0.
      const exited = once(lb.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      process.kill(lb.pid, 'SIGTERM');
      const [code, signal] = await exited;
      assert.equal(signal, null);
      assert.equal(code, 0, `lb run exit code; stderr:\n${lb.stderrLines().slice(-20).join('\n')}`);
      const pid = masterPid;
      await waitFor('HAProxy master gone', async () => !alive(pid), 5_000);
      await waitFor(
        `no process left for ${stateDir}`,
        async () => (await run('pgrep', ['-f', stateDir])).code === 1,
        5_000,
      );
    } finally {
      await lb.stop(2_000);
      if (masterPid !== undefined && alive(masterPid)) process.kill(masterPid, 'SIGKILL');
      await backend.close();
    }
  });
});
