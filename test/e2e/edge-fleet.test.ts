// Two `quayside serve --config-dir` instances behind `quayside lb` in mode tcp with send_proxy_v2 to their PROXY
// ports: TLS passes through the balancer and ends in the instances, health checks carry the PROXY header too,
// skopeo pushes and pulls through it, and the audit log records each client's own loopback address (the PROXY
// header's), not the balancer's.
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { buildUmociImage, readLayoutImage } from '../helpers/oci-images.js';
import { freePort, quaysideCli, requireCommand, run, runOk, startProcess, type ManagedProcess } from '../helpers/processes.js';
import { makePki, tempDir, waitFor, type TestPki } from '../net/fixtures.js';

const USER = { username: 'fleet', password: 'fleet-password-0123456789' };

/** A login (GET /v2/auth with Basic credentials) through the balancer from `localAddress`. */
function loginFrom(port: number, localAddress: string, ca: string): Promise<number> {
  const basic = Buffer.from(`${USER.username}:${USER.password}`).toString('base64');
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', servername: 'localhost', port, path: '/v2/auth', localAddress, ca, agent: false, headers: { host: `localhost:${port}`, authorization: `Basic ${basic}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('serve instances behind quayside lb, PROXY v2 then TLS', { timeout: 300_000 }, () => {
  let work: { path: string; remove(): Promise<void> };
  let pki: TestPki;
  let fresh: FreshDatabase | undefined;
  const instances: ManagedProcess[] = [];
  let balancer: ManagedProcess | undefined;
  let lbPort = 0;

  before(async () => {
    const skopeo = requireCommand('skopeo', 'apt-get install skopeo');
    requireCommand('umoci', 'apt-get install umoci');
    requireCommand('haproxy', 'apt-get install haproxy');
    work = await tempDir('quayside-e2e-edge-');
    pki = await makePki(work.path);
    fresh = await freshDatabase('postgres');
    const conf = join(work.path, 'conf');
    await mkdir(conf, { recursive: true });
    const pair = await pki.issue('fleet', '5001');
    await writeFile(join(conf, 'ssl.cert'), pair.chain);
    await writeFile(join(conf, 'ssl.key'), pair.key);
    await writeFile(
      join(conf, 'config.yaml'),
      [
        `DB_URI: ${fresh.uri}`,
        'PREFERRED_URL_SCHEME: https',
        'DISTRIBUTED_STORAGE_CONFIG:',
        `  local: [LocalStorage, {storage_path: ${JSON.stringify(join(work.path, 'storage'))}}]`,
        'DISTRIBUTED_STORAGE_PREFERENCE: [local]',
        '',
      ].join('\n'),
    );
    await runOk(process.execPath, [quaysideCli(), 'user', 'create', USER.username, '--password-stdin', '--config-dir', conf], { input: `${USER.password}\n`, timeoutMs: 60_000 });
    const proxyPorts: number[] = [];
    for (const name of ['one', 'two']) {
      const proc = await startProcess({
        command: process.execPath,
        args: [quaysideCli(), 'serve', '--config-dir', conf, '--data-dir', join(work.path, name), '--address', '127.0.0.1', '--port', 'none', '--proxy-port', '0'],
        ready: /PROXY protocol then TLS on 127\.0\.0\.1:(\d+)/,
      });
      instances.push(proc);
      proxyPorts.push(Number(proc.readyMatch[1]));
    }
    lbPort = await freePort();
    const lbYaml = join(work.path, 'lb.yaml');
    await writeFile(
      lbYaml,
      [
        'load_balancer:',
        '  name: edge_lb',
        '  http_ports: []',
        'services:',
        '  registry:',
        '    mode: tcp',
        '    balance: roundrobin',
        '    internal_port: 8443',
        `    external_port: ${lbPort}`,
        '    send_proxy_v2: true',
        '    health_check: { interval: 1s, rise: 1, fall: 2 }',
        '    backends:',
        ...proxyPorts.map((port, i) => `      - { name: q${i + 1}, address: 127.0.0.1, port: ${port} }`),
        '',
      ].join('\n'),
    );
    balancer = await startProcess({
      command: process.execPath,
      args: [quaysideCli(), 'lb', 'run', '--config', lbYaml, '--state-dir', join(work.path, 'lb-state'), '--status-port', '0'],
      ready: /"statusPort":(\d+).*quayside lb running/,
      readyTimeoutMs: 30_000,
    });
    const statusPort = Number(balancer.readyMatch[1]);
    // Both backends pass a health check, which the PROXY port accepts only with the header (check-send-proxy).
    await waitFor('both backends UP', async () => {
      const result = await run(process.execPath, [quaysideCli(), 'lb', 'status', '--url', `http://127.0.0.1:${statusPort}`, '--json'], { timeoutMs: 20_000 });
      if (result.code !== 0) return undefined;
      const status = JSON.parse(result.stdout) as { services: { backends: { up: boolean }[] }[] };
      const backends = status.services.flatMap((s) => s.backends);
      return backends.length === 2 && backends.every((b) => b.up);
    }, 60_000);
    const certDir = join(work.path, 'certs.d');
    await mkdir(certDir, { recursive: true });
    await writeFile(join(certDir, 'ca.crt'), pki.caCert);
    await runOk(skopeo, ['login', '--authfile', join(work.path, 'auth.json'), '--cert-dir', certDir, '-u', USER.username, '--password-stdin', `localhost:${lbPort}`], { input: `${USER.password}\n`, timeoutMs: 60_000 });
  });

  after(async () => {
    await balancer?.stop(60_000);
    await Promise.all(instances.map((proc) => proc.stop(60_000)));
    await fresh?.drop();
    await work?.remove();
  });

  it('copies an image in and out with skopeo through the balancer', async () => {
    const certDir = join(work.path, 'certs.d');
    const authFile = join(work.path, 'auth.json');
    const image = await buildUmociImage(join(work.path, 'img'), 'v1', 64 * 1024);
    const ref = `docker://localhost:${lbPort}/${USER.username}/app:v1`;
    await runOk('skopeo', ['copy', '--authfile', authFile, '--dest-cert-dir', certDir, `oci:${image.dir}:v1`, ref], { timeoutMs: 120_000 });
    await runOk('skopeo', ['copy', '--authfile', authFile, '--src-cert-dir', certDir, ref, `oci:${join(work.path, 'out')}:v1`], { timeoutMs: 120_000 });
    assert.equal((await readLayoutImage(join(work.path, 'out'), 'v1')).manifest.digest, image.manifest.digest);
  });

  it('audits each client by its own address from the PROXY header', async () => {
    for (const address of ['127.0.0.2', '127.0.0.3']) assert.equal(await loginFrom(lbPort, address, pki.caCert), 200);
    const logins = await waitFor('login rows of three distinct clients', async () => {
      const rows = await sql<{ client_address: string }>`select distinct client_address from audit_log where kind = 'login_success'`.execute(fresh!.database.db);
      const addresses = rows.rows.map((row) => row.client_address).sort();
      return ['127.0.0.1', '127.0.0.2', '127.0.0.3'].every((a) => addresses.includes(a)) ? addresses : undefined;
    });
    assert.deepEqual(logins, ['127.0.0.1', '127.0.0.2', '127.0.0.3']);
  });
});
