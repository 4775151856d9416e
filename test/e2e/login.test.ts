// Logging in with real clients against the built server: skopeo login with a user, a robot and an app-specific
// token, a push and a pull with each; a private pull without login fails with 401, a push with a read-only robot
// fails with 403 DENIED, an anonymous pull of a public repository works; the audit log names who did what.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildUmociImage, http, readLayoutImage, type LayoutImage } from '../helpers/oci-images.js';
import { E2E_USER, quaysideCli, requireCommand, run, runOk, startQuayside, type Credentials, type RegistryServer } from '../helpers/processes.js';

/** A skopeo with its own auth file, as one machine (a laptop, a CI runner) would have. */
interface Client {
  authFile: string;
  run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

describe('skopeo login with a user, a robot and an app token', () => {
  let server: RegistryServer;
  let work: string;
  let dataDir: string;
  let image: LayoutImage;
  let skopeoBin: string;
  let sessionCookie: string;

  const ref = (path: string) => `docker://${server.hostPort}/${path}`;

  async function client(name: string): Promise<Client> {
    const authFile = join(work, `${name}-auth.json`);
    await writeFile(authFile, '{"auths":{}}\n');
    return {
      authFile,
      run: (args) => run(skopeoBin, ['--insecure-policy', ...args.slice(0, 1), '--authfile', authFile, ...args.slice(1)], { timeoutMs: 120_000 }),
    };
  }

  async function login(c: Client, credentials: Credentials): Promise<void> {
    await runOk(skopeoBin, ['login', '--tls-verify=false', '--authfile', c.authFile, '--username', credentials.username, '--password-stdin', server.hostPort], {
      input: `${credentials.password}\n`,
    });
  }

  async function ok(c: Client, args: string[]): Promise<string> {
    const result = await c.run(args);
    assert.equal(result.code, 0, `skopeo ${args.join(' ')} failed:\n${result.stderr}`);
    return result.stdout;
  }

  /** A call to /api/v1 as the e2e user (signed in once, with the session cookie). */
  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await http(`${server.url}/api/v1${path}`, {
      method,
      headers: { cookie: sessionCookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = response.body.toString();
    return { status: response.status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
  }

  /** `quayside robot create e2e NAME`: returns the robot's credentials from the one-time output. */
  async function createRobot(short: string, role: 'read' | 'write'): Promise<Credentials> {
    const out = await runOk(process.execPath, [quaysideCli(), 'robot', 'create', 'e2e', short, '--data-dir', dataDir]);
    const token = /^token: (\S+)$/m.exec(out)?.[1];
    assert.ok(token, `no token line in:\n${out}`);
    const granted = await api('PUT', `/repository/e2e/app/permissions/user/e2e+${short}`, { role });
    assert.equal(granted.status, 200, JSON.stringify(granted.json));
    return { username: `e2e+${short}`, password: token };
  }

  before(async () => {
    skopeoBin = requireCommand('skopeo', 'apt-get install skopeo');
    requireCommand('umoci', 'apt-get install umoci');
    work = await mkdtemp(join(tmpdir(), 'quayside-e2e-login-'));
    dataDir = join(work, 'data');
    server = await startQuayside({ dataDir });
    image = await buildUmociImage(join(work, 'src'), 'v1');
    const signin = await http(`${server.url}/api/v1/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: E2E_USER.username, password: E2E_USER.password }),
    });
    assert.equal(signin.status, 200, signin.body.toString());
    const cookie = [signin.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('quayside_session='));
    assert.ok(cookie, 'sign-in set no session cookie');
    sessionCookie = cookie.split(';')[0] ?? '';
  });

  after(async () => {
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a user logs in, pushes a new private repository and pulls it back', async () => {
    const laptop = await client('user');
    await login(laptop, E2E_USER);
    await ok(laptop, ['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, ref('e2e/app:v1')]);
    await ok(laptop, ['copy', '--src-tls-verify=false', ref('e2e/app:v1'), `oci:${join(work, 'user-out')}:v1`]);
    assert.equal((await readLayoutImage(join(work, 'user-out'), 'v1')).manifest.digest, image.manifest.digest);
    const repository = await api('GET', '/repository/e2e/app');
    assert.equal(repository.status, 200, JSON.stringify(repository.json));
    assert.equal(repository.json.is_public, false, 'CREATE_PRIVATE_REPO_ON_PUSH makes pushed repositories private');
  });

  test('a private repository cannot be pulled without logging in (401)', async () => {
    const stranger = await client('stranger');
    const result = await stranger.run(['inspect', '--raw', '--tls-verify=false', ref('e2e/app:v1')]);
    assert.notEqual(result.code, 0, 'an anonymous pull of a private repository succeeded');
    assert.match(result.stderr, /401|unauthorized|authentication required/i);
    const raw = await http(`${server.url}/v2/e2e/app/manifests/v1`);
    assert.equal(raw.status, 401);
    assert.match(String(raw.headers['www-authenticate']), /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/v2\/auth",service="127\.0\.0\.1:\d+",scope="repository:e2e\/app:pull"$/);
  });

  test('a robot with write access logs in with its token, pushes and pulls', async () => {
    const robot = await createRobot('ci', 'write');
    const runner = await client('robot');
    await login(runner, robot);
    await ok(runner, ['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, ref('e2e/app:from-robot')]);
    const raw = await ok(runner, ['inspect', '--raw', '--tls-verify=false', ref('e2e/app:from-robot')]);
    assert.equal(raw, image.manifestBytes.toString('utf8'));
  });

  test('a read-only robot pulls but its push is refused with 403 DENIED', async () => {
    const robot = await createRobot('reader', 'read');
    const reader = await client('reader');
    await login(reader, robot);
    const raw = await ok(reader, ['inspect', '--raw', '--tls-verify=false', ref('e2e/app:v1')]);
    assert.equal(raw, image.manifestBytes.toString('utf8'));
    const push = await reader.run(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, ref('e2e/app:from-reader')]);
    assert.notEqual(push.code, 0, 'a read-only robot pushed');
    assert.match(push.stderr, /denied/i);
    // The same refusal over plain HTTP, with the token the robot gets: 403 and the OCI code DENIED.
    const tokenUrl = `${server.url}/v2/auth?service=${server.hostPort}&scope=repository:e2e/app:pull,push`;
    const token = await http(tokenUrl, { headers: { authorization: `Basic ${Buffer.from(`${robot.username}:${robot.password}`).toString('base64')}` } });
    assert.equal(token.status, 200);
    const { token: bearer } = JSON.parse(token.body.toString()) as { token: string };
    const upload = await http(`${server.url}/v2/e2e/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${bearer}` } });
    assert.equal(upload.status, 403);
    assert.deepEqual((JSON.parse(upload.body.toString()) as { errors: { code: string }[] }).errors.map((e) => e.code), ['DENIED']);
  });

  test('an app-specific token logs in as $app, pushes and pulls', async () => {
    const created = await api('POST', '/user/apptoken', { title: 'e2e laptop' });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const code = (created.json.token as { token_code?: string } | undefined)?.token_code;
    assert.ok(code, JSON.stringify(created.json));
    const laptop = await client('apptoken');
    await login(laptop, { username: '$app', password: code });
    await ok(laptop, ['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, ref('e2e/app:from-app-token')]);
    await ok(laptop, ['copy', '--src-tls-verify=false', ref('e2e/app:from-app-token'), `oci:${join(work, 'app-out')}:v1`]);
    assert.equal((await readLayoutImage(join(work, 'app-out'), 'v1')).manifest.digest, image.manifest.digest);
  });

  test('a wrong password is refused at login', async () => {
    const laptop = await client('wrong');
    const result = await run(
      skopeoBin,
      ['login', '--tls-verify=false', '--authfile', laptop.authFile, '--username', E2E_USER.username, '--password-stdin', server.hostPort],
      { input: 'not-the-password\n' },
    );
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /401|unauthorized|invalid/i);
  });

  test('anyone pulls a public repository without logging in', async () => {
    const owner = await client('owner');
    await login(owner, E2E_USER);
    await ok(owner, ['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, ref('e2e/public:v1')]);
    await runOk(process.execPath, [quaysideCli(), 'repo', 'set-visibility', 'e2e/public', 'public', '--data-dir', dataDir]);
    const stranger = await client('anonymous');
    await ok(stranger, ['copy', '--src-tls-verify=false', ref('e2e/public:v1'), `oci:${join(work, 'public-out')}:v1`]);
    assert.equal((await readLayoutImage(join(work, 'public-out'), 'v1')).manifest.digest, image.manifest.digest);
    const push = await stranger.run(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, ref('e2e/public:anonymous')]);
    assert.notEqual(push.code, 0, 'an anonymous push succeeded');
  });

  test('the audit log names the user, the robot and the app token, with the client address', async () => {
    const logs = await api('GET', '/repository/e2e/app/logs');
    assert.equal(logs.status, 200, JSON.stringify(logs.json));
    const entries = logs.json.logs as { kind: string; ip: string | null; performer?: { name: string } | null; metadata: Record<string, unknown> }[];
    const pushers = new Set(entries.filter((e) => e.kind === 'push_repo').map((e) => e.performer?.name));
    assert.deepEqual([...pushers].sort(), ['e2e', 'e2e+ci']);
    assert.ok(entries.some((e) => e.kind === 'pull_repo' && e.performer?.name === 'e2e+reader'), 'the read-only robot\'s pull is not logged');
    assert.ok(entries.some((e) => e.kind === 'push_repo' && e.metadata.app_token !== undefined), 'the app-token push is not marked');
    assert.ok(entries.every((e) => e.ip === '127.0.0.1'), JSON.stringify(entries.map((e) => e.ip)));
    const user = await api('GET', '/user/logs');
    assert.equal(user.status, 200, JSON.stringify(user.json));
    const kinds = (user.json.logs as { kind: string }[]).map((e) => e.kind);
    assert.ok(kinds.includes('login_success') && kinds.includes('login_failure'), kinds.join(','));
  });
});
