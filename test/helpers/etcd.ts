// A real etcd (Debian's etcd-server) for tests: free ports, a temporary data directory, ready when /health
// says so. Restartable on the same ports and data (startEtcd({ dataDir, clientPort, peerPort })) to test
// watch recovery. A missing `etcd` binary makes the test fail, never skip.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireCommand } from './processes.js';

export interface EtcdServer {
  /** `http://127.0.0.1:<port>`, for `new Etcd3({ hosts: endpoint })`. */
  endpoint: string;
  dataDir: string;
  clientPort: number;
  peerPort: number;
  /** Stop etcd and remove its data directory (unless keepData, to restart on it). */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export interface StartEtcdOptions {
  dataDir?: string;
  clientPort?: number;
  peerPort?: number;
  readyTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

async function waitHealthy(endpoint: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode} before becoming healthy:\n${output()}`);
    try {
      const response = await fetch(`${endpoint}/health`);
      const body = (await response.json()) as { health?: string };
      if (body.health === 'true') return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`etcd at ${endpoint} not healthy after ${timeoutMs}ms:\n${output()}`);
}

/** Start a single-member etcd on free local ports with a temporary data directory. */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdServer> {
  const etcd = requireCommand('etcd', 'apt-get install etcd-server');
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'quayside-etcd-')));
  const clientPort = options.clientPort ?? (await freePort());
  const peerPort = options.peerPort ?? (await freePort());
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    etcd,
    [
      '--name', 'default',
      '--data-dir', dataDir,
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `default=${peer}`,
      '--log-level', 'warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(child);
  let log = '';
  const collect = (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stopProcess = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    live.delete(child);
  };
  try {
    await waitHealthy(endpoint, child, () => log, options.readyTimeoutMs ?? 20_000);
  } catch (error) {
    await stopProcess();
    if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    endpoint,
    dataDir,
    clientPort,
    peerPort,
    async stop(stopOptions = {}) {
      await stopProcess();
      if (stopOptions.keepData !== true) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
