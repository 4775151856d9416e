// The administration commands while `quayside serve` runs on the same data dir: accounts made or changed
// from the CLI log in at /v2/auth at once, and a regenerated robot token replaces the old one.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runQuayside, runQuaysideWithInput } from '../helpers/cli.js';
import { startQuayside, type RegistryServer, type RunResult } from '../helpers/processes.js';

let work: string;
let dataDir: string;
let server: RegistryServer;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'quayside-cli-accounts-live-'));
  dataDir = join(work, 'data');
  server = await startQuayside({ dataDir, user: false });
});
after(async () => {
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

function stdoutOf(result: RunResult): string {
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

function tokenOf(stdout: string): string {
  const match = /^token: (\S+)$/m.exec(stdout);
  assert.ok(match, stdout);
  return match[1]!;
}

/** The status of a token request with basic credentials, as docker login makes it. */
async function login(username: string, password: string): Promise<number> {
  const url = `${server.url}/v2/auth?service=${encodeURIComponent(server.hostPort)}`;
  const response = await fetch(url, { headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` } });
  await response.arrayBuffer();
  return response.status;
}

describe('administration next to a running server', () => {
  it('a user created from the CLI logs in; a changed password takes effect at once', async () => {
    stdoutOf(await runQuaysideWithInput(work, 'first password 123\n', 'user', 'create', 'livia', '--password-stdin', '--data-dir', dataDir));
    assert.equal(await login('livia', 'first password 123'), 200);
    assert.equal(await login('livia', 'not the password'), 401);

    stdoutOf(await runQuaysideWithInput(work, 'second password 456\n', 'user', 'passwd', 'livia', '--password-stdin', '--data-dir', dataDir));
    assert.equal(await login('livia', 'second password 456'), 200);
    assert.equal(await login('livia', 'first password 123'), 401);
  });

  it('a robot token works until it is regenerated', async () => {
    const first = tokenOf(stdoutOf(await runQuayside(work, 'robot', 'create', 'livia', 'ci', '--data-dir', dataDir)));
    assert.equal(await login('livia+ci', first), 200);
    const second = tokenOf(stdoutOf(await runQuayside(work, 'robot', 'regenerate', 'livia', 'ci', '--data-dir', dataDir)));
    assert.equal(await login('livia+ci', second), 200);
    assert.equal(await login('livia+ci', first), 401);
  });

  it('a superuser made from the CLI administers everything at once, and stops when it is taken back', async () => {
    const created = stdoutOf(await runQuaysideWithInput(work, 'boss password 789\n', 'user', 'create', 'boss', '--password-stdin', '--superuser', '--data-dir', dataDir));
    assert.match(created, /^superuser: yes \(set with quayside user set-superuser\)$/m);
    const cookie = await signIn('boss', 'boss password 789');
    assert.equal(await superuserLogsStatus(cookie), 200);

    const off = stdoutOf(await runQuayside(work, 'user', 'set-superuser', 'boss', '--off', '--data-dir', dataDir));
    assert.match(off, /^superuser: no$/m);
    assert.equal(await superuserLogsStatus(cookie), 403);
    stdoutOf(await runQuayside(work, 'user', 'set-superuser', 'boss', '--data-dir', dataDir));
    assert.equal(await superuserLogsStatus(cookie), 200);
    // A user who is not one is refused the same endpoint.
    assert.equal(await superuserLogsStatus(await signIn('livia', 'second password 456')), 403);
  });
});

/** Signs in at /api/v1/signin and returns the session cookie. */
async function signIn(username: string, password: string): Promise<string> {
  const response = await fetch(`${server.url}/api/v1/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  await response.arrayBuffer();
  assert.equal(response.status, 200);
  const cookie = response.headers.get('set-cookie');
  assert.ok(cookie, 'a session cookie');
  return cookie.split(';')[0]!;
}

async function superuserLogsStatus(cookie: string): Promise<number> {
  const response = await fetch(`${server.url}/api/v1/superuser/logs`, { headers: { cookie } });
  await response.arrayBuffer();
  return response.status;
}
