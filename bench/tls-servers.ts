// The two servers of the TLS benchmark: `quayside serve` with a Quay config directory (ssl.cert/ssl.key) on
// three ports of one process (plain HTTP, HTTPS, PROXY+TLS), and CNCF distribution 2.8 terminating TLS itself
// (its http.tls settings). Each has its own temporary directory, removed on stop.
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quaysideCli, runOk, startDistribution, startProcess, type Credentials, type ManagedProcess, type RegistryServer } from '../test/helpers/processes.js';
import type { BenchCertificates } from './tls-certs.js';

export interface QuaysideEdge {
  process: ManagedProcess;
  httpPort: number;
  httpsPort: number;
  proxyPort: number;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/**
 * `quayside serve --config-dir DIR --port 0 --https-port 0 --proxy-port 0` with DIR holding config.yaml,
 * ssl.cert and ssl.key; the embedded SQLite metadata and local blobs under its own data directory, after
 * `quayside user create`. The listening lines give the three ports.
 */
export async function startQuaysideEdge(certificates: BenchCertificates, user: Credentials, outputFile: string): Promise<QuaysideEdge> {
  const root = await mkdtemp(join(tmpdir(), 'tls-bench-quayside-'));
  const configDir = join(root, 'conf');
  const dataDir = join(root, 'data');
  try {
    await mkdir(configDir);
    await mkdir(dataDir);
    await writeFile(join(configDir, 'config.yaml'), `SERVER_HOSTNAME: ${HOST}\n`);
    await copyFile(certificates.certFile, join(configDir, 'ssl.cert'));
    await copyFile(certificates.keyFile, join(configDir, 'ssl.key'));
    const cli = quaysideCli();
    const where = ['--config-dir', configDir, '--data-dir', dataDir];
    await runOk(process.execPath, [cli, 'user', 'create', user.username, '--password-stdin', '--init', ...where], { input: `${user.password}\n`, timeoutMs: 60_000 });
    const proc = await startProcess({
      command: process.execPath,
      args: [...(process.env.TLS_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), cli, 'serve', ...where, '--address', HOST, '--port', '0', '--https-port', '0', '--proxy-port', '0'],
      ready: /listening for PROXY protocol then TLS on 127\.0\.0\.1:(\d+)/,
      outputFile,
      maxLines: 100,
    });
    const portOf = async (pattern: RegExp) => Number(pattern.exec(await proc.waitForLine(pattern))?.[1]);
    return {
      process: proc,
      httpPort: await portOf(/listening on http:\/\/127\.0\.0\.1:(\d+)/),
      httpsPort: await portOf(/listening on https:\/\/127\.0\.0\.1:(\d+)/),
      proxyPort: Number(proc.readyMatch[1]),
      stop: async () => {
        await proc.stop();
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Debian's docker-registry (distribution 2.8) with the configuration the registry benchmark uses (Debian's
 * shipped one minus htpasswd auth) plus http.tls with the same certificate pair, so it terminates TLS itself.
 */
export function startDistributionTls(certificates: BenchCertificates, outputFile: string): Promise<RegistryServer> {
  return startDistribution({ tls: { certificate: certificates.certFile, key: certificates.keyFile }, outputFile, maxLines: 100 });
}
