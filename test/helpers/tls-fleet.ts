// Seed 000's edge for a test: a CA and a SAN certificate made with openssl, two `quayside serve --config-dir`
// instances on one PostgreSQL database, each with a PROXY port that terminates TLS, behind `quayside lb` in
// mode tcp with send_proxy_v2 (health checks send the PROXY header too). Clients trust the CA only.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freshDatabase, type FreshDatabase } from './databases.js';
import { freePort, quaysideCli, requireCommand, run, runOk, startProcess, type Credentials, type ManagedProcess } from './processes.js';
import { makePki, tempDir, waitFor, type TestPki } from '../net/fixtures.js';

export interface TlsFleet {
  work: { path: string; remove(): Promise<void> };
  pki: TestPki;
  database: FreshDatabase;
  /** The config directory every instance serves (ssl.cert, ssl.key, config.yaml). */
  confDir: string;
  /** A certs.d-style directory holding ca.crt (skopeo/podman --cert-dir). */
  certDir: string;
  /** The CA certificate as a file (curl --cacert). */
  caFile: string;
  instances: ManagedProcess[];
  balancer: ManagedProcess;
  /** The balancer's TLS port (TCP passed through to the instances' PROXY ports). */
  lbPort: number;
  /** `localhost:<lbPort>`, the registry's name for clients. */
  registry: string;
  stop(): Promise<void>;
}

/** Starts the fleet with `user` created; stops whatever started if a later part fails. */
export async function startTlsFleet(user: Credentials, prefix = 'quayside-tls-fleet-'): Promise<TlsFleet> {
  requireCommand('haproxy', 'apt-get install haproxy');
  const work = await tempDir(prefix);
  const instances: ManagedProcess[] = [];
  let balancer: ManagedProcess | undefined;
  let database: FreshDatabase | undefined;
  const stop = async () => {
    await balancer?.stop(60_000);
    await Promise.all(instances.map((proc) => proc.stop(60_000)));
    await database?.drop();
    await work.remove();
  };
  try {
    const pki = await makePki(work.path);
    database = await freshDatabase('postgres');
    const confDir = join(work.path, 'conf');
    await mkdir(confDir, { recursive: true });
    const pair = await pki.issue('fleet', '5001');
    await writeFile(join(confDir, 'ssl.cert'), pair.chain);
    await writeFile(join(confDir, 'ssl.key'), pair.key);
    await writeFile(
      join(confDir, 'config.yaml'),
      [
        `DB_URI: ${database.uri}`,
        'PREFERRED_URL_SCHEME: https',
        'DISTRIBUTED_STORAGE_CONFIG:',
        `  local: [LocalStorage, {storage_path: ${JSON.stringify(join(work.path, 'storage'))}}]`,
        'DISTRIBUTED_STORAGE_PREFERENCE: [local]',
        '',
      ].join('\n'),
    );
    await runOk(process.execPath, [quaysideCli(), 'user', 'create', user.username, '--password-stdin', '--config-dir', confDir], { input: `${user.password}\n`, timeoutMs: 60_000 });
    const proxyPorts: number[] = [];
    for (const name of ['one', 'two']) {
      const proc = await startProcess({
        command: process.execPath,
        args: [quaysideCli(), 'serve', '--config-dir', confDir, '--data-dir', join(work.path, name), '--address', '127.0.0.1', '--port', 'none', '--proxy-port', '0'],
        ready: /PROXY protocol then TLS on 127\.0\.0\.1:(\d+)/,
      });
      instances.push(proc);
      proxyPorts.push(Number(proc.readyMatch[1]));
    }
    const lbPort = await freePort();
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
    return { work, pki, database, confDir, certDir, caFile: join(work.path, 'root.crt'), instances, balancer, lbPort, registry: `localhost:${lbPort}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
