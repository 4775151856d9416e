// Real clients through seed 000's edge (two instances, PROXY port + TLS, behind `quayside lb` in tcp mode with
// send_proxy_v2), trusting the test CA and nothing else: curl's /v1/_ping check, podman (--cert-dir) and
// docker (/etc/docker/certs.d/<host:port>/ca.crt) log in, push and pull byte for byte; and clients on distinct
// loopback addresses are told apart through the balancer: five failed logins from 127.0.0.2 throttle that
// address while 127.0.0.3 logs in at once, and the audit and request logs name each address.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startPrivateDockerd, type PrivateDockerd } from '../helpers/dockerd.js';
import { requireCommand, run, runOk } from '../helpers/processes.js';
import { startTlsFleet, type TlsFleet } from '../helpers/tls-fleet.js';
import { waitFor } from '../net/fixtures.js';

const USER = { username: 'edgeclients', password: 'edge-clients-password-0123' };

describe('podman, docker and curl through the TLS balancer', { timeout: 600_000 }, () => {
  let fleet: TlsFleet;
  let podmanBin: string;
  let daemon: PrivateDockerd | undefined;
  let dockerCertsDir: string | undefined;
  const marker = randomBytes(6).toString('hex');

  /** podman on this test's own storage; fails with its output unless it exits 0. */
  async function podman(...args: string[]): Promise<string> {
    const storage = ['--root', join(fleet.work.path, 'podman'), '--runroot', join(fleet.work.path, 'podman-run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
    const result = await run(podmanBin, [...storage, ...args], { timeoutMs: 180_000, input: args[0] === 'login' ? `${USER.password}\n` : undefined });
    assert.equal(result.code, 0, `podman ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
    return result.stdout;
  }

  async function docker(args: string[], input?: string): Promise<string> {
    const result = await daemon!.docker(args, { input });
    assert.equal(result.code, 0, `docker ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
    return result.stdout;
  }

  /** A build context whose Containerfile copies one small file into an empty image. */
  async function context(name: string, file: string): Promise<string> {
    const dir = join(fleet.work.path, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'hello.txt'), `hello from ${name} ${marker}\n`);
    await writeFile(join(dir, file), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    return dir;
  }

  /** curl through the balancer from a loopback address; answers the status code. */
  async function curlFrom(address: string, path: string, userPassword: string): Promise<number> {
    const out = await runOk('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', fleet.caFile, '--interface', address, '-u', userPassword, `https://${fleet.registry}${path}`], { timeoutMs: 30_000 });
    return Number(out);
  }

  before(async () => {
    podmanBin = requireCommand('podman', 'apt-get install podman');
    requireCommand('dockerd', 'apt-get install docker.io');
    fleet = await startTlsFleet(USER, 'quayside-e2e-clients-');
  });

  after(async () => {
    await daemon?.stop();
    if (dockerCertsDir !== undefined) await rm(dockerCertsDir, { recursive: true, force: true });
    await fleet?.stop();
  });

  it('answers curl\'s /v1/_ping with true through the balancer, over HTTP/2, trusting only the CA', async () => {
    const out = await runOk('curl', ['-sS', '-w', '\n%{http_version}', '--cacert', fleet.caFile, `https://${fleet.registry}/v1/_ping`]);
    assert.equal(out, 'true\n2');
    // Without the CA the certificate is refused: it is really verified.
    const untrusted = await run('curl', ['-sS', '-o', '/dev/null', `https://${fleet.registry}/v1/_ping`], { timeoutMs: 30_000 });
    assert.notEqual(untrusted.code, 0);
  });

  it('podman logs in, pushes and pulls through the balancer with --cert-dir', async () => {
    const ref = `${fleet.registry}/${USER.username}/podman-app:v1`;
    const tls = ['--cert-dir', fleet.certDir];
    const authFile = ['--authfile', join(fleet.work.path, 'podman-auth.json')];
    await podman('login', ...tls, ...authFile, '--username', USER.username, '--password-stdin', fleet.registry);
    await podman('build', '--isolation', 'chroot', '--quiet', '-t', ref, await context('podman-app', 'Containerfile'));
    const built = (await podman('image', 'inspect', '--format', '{{.Id}}', ref)).trim();
    const digestFile = join(fleet.work.path, 'podman-digest');
    await podman('push', ...tls, ...authFile, '--digestfile', digestFile, ref);
    const pushed = (await readFile(digestFile, 'utf8')).trim();
    assert.match(pushed, /^sha256:[0-9a-f]{64}$/);
    await podman('rmi', '--force', ref);
    await podman('pull', ...tls, ...authFile, ref);
    assert.equal((await podman('image', 'inspect', '--format', '{{.Id}}', ref)).trim(), built);
    // The manifest pulled is the one pushed, byte for byte (its digest); podman checked every blob's digest.
    assert.equal((await podman('image', 'inspect', '--format', '{{.Digest}}', ref)).trim(), pushed);
  });

  it('docker logs in, pushes and pulls through the balancer trusting the CA from /etc/docker/certs.d', async () => {
    dockerCertsDir = join('/etc/docker/certs.d', fleet.registry);
    await mkdir(dockerCertsDir, { recursive: true });
    await writeFile(join(dockerCertsDir, 'ca.crt'), fleet.pki.caCert);
    daemon = await startPrivateDockerd();
    const ref = `${fleet.registry}/${USER.username}/docker-app:v1`;
    assert.match(await docker(['login', '--username', USER.username, '--password-stdin', fleet.registry], `${USER.password}\n`), /Login Succeeded/);
    await docker(['build', '--quiet', '-t', ref, await context('docker-app', 'Dockerfile')]);
    const built = (await docker(['image', 'inspect', '--format', '{{.Id}}', ref])).trim();
    const pushOut = await docker(['push', ref]);
    const pushed = /digest: (sha256:[0-9a-f]{64})/.exec(pushOut)?.[1];
    assert.ok(pushed, pushOut);
    await docker(['rmi', ref]);
    assert.notEqual((await daemon.docker(['image', 'inspect', ref])).code, 0, 'the image is removed before the pull');
    await docker(['pull', ref]);
    assert.equal((await docker(['image', 'inspect', '--format', '{{.Id}}', ref])).trim(), built);
    assert.match(await docker(['image', 'inspect', '--format', '{{join .RepoDigests " "}}', ref]), new RegExp(`@${pushed}`));
  });

  it('throttles five failed logins from 127.0.0.2 while 127.0.0.3 logs in at once, and logs both addresses', async () => {
    const auth = `/v2/auth?service=${fleet.registry}`;
    // Unknown users, so only the address's counter grows (a user's own counter would lock that user out everywhere).
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push(await curlFrom('127.0.0.2', auth, `intruder-${i}:wrong-password`));
    assert.deepEqual(statuses, [401, 401, 401, 401, 401], 'five free failures');
    // From here each failure doubles the wait: the next attempts are refused unchecked until one is 429.
    let status = 0;
    for (let i = 5; i < 12 && status !== 429; i++) status = await curlFrom('127.0.0.2', auth, `intruder-${i}:wrong-password`);
    assert.equal(status, 429, 'repeated failures from 127.0.0.2 are throttled');
    // Another client behind the same balancer is not slowed down by them.
    assert.equal(await curlFrom('127.0.0.3', auth, `${USER.username}:${USER.password}`), 200);

    const rows = await waitFor('audit rows of both addresses', async () => {
      const result = await sql<{ kind: string; client_address: string }>`select kind, client_address from audit_log where client_address in ('127.0.0.2', '127.0.0.3')`.execute(fleet.database.database.db);
      const seen = new Set(result.rows.map((row) => `${row.kind} ${row.client_address}`));
      return seen.has('login_failure 127.0.0.2') && seen.has('login_success 127.0.0.3') ? seen : undefined;
    });
    assert.equal([...rows].some((row) => row.endsWith('127.0.0.1')), false);
    const logged = (address: string, code: number) =>
      fleet.instances.some((proc) => proc.stdoutLines().some((line) => line.includes('"msg":"request"') && line.includes(`"client":"${address}"`) && line.includes(`"status":${code}`) && line.includes('/v2/auth')));
    await waitFor('request log lines of both addresses', () => logged('127.0.0.2', 429) && logged('127.0.0.3', 200));
  });
});
