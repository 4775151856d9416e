// Helpers for tests that run a real HAProxy: temp dirs, certificates made with openssl, HTTP requests with
// an explicit Host header through the balancer, and polling until a condition holds.
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { destination, pino } from 'pino';
import { startLoadBalancer, type RunningLb } from '../../src/lb/run.js';
import { MasterSocket } from '../../src/lb/haproxy/master-socket.js';
import { requireCommand } from './processes.js';

/** Fails loudly (never skips) when haproxy, openssl or etcd are missing. */
export function requireLbTools(): void {
  requireCommand('haproxy', 'apt-get install haproxy');
  requireCommand('openssl', 'apt-get install openssl');
}

/** A fresh directory under the OS temp dir; short, because UNIX socket paths are limited to 107 bytes. */
export async function tempDir(prefix = 'qlb-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Runs a command and returns stdout; rejects with stderr on failure. */
export function exec(command: string, args: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/** A self-signed certificate for `cn` (and SAN), as one PEM bundle: certificate then private key. */
export async function makeCertificate(dir: string, cn: string): Promise<string> {
  const key = join(dir, `${cn}.key`);
  const crt = join(dir, `${cn}.crt`);
  await exec('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', key, '-out', crt, '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`,
  ]);
  return `${await readFile(crt, 'utf8')}${await readFile(key, 'utf8')}`;
}

/** A SHA-512 crypt(3) hash made by `openssl passwd -6`. */
export async function sha512Crypt(password: string): Promise<string> {
  return (await exec('openssl', ['passwd', '-6', password])).trim();
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HttpOptions {
  host?: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Reuse connections through this agent (keep-alive); default: a new connection that is closed. */
  agent?: import('node:http').Agent;
  localAddress?: string;
  address?: string;
}

/** One HTTP/1.1 request to 127.0.0.1:`port` with the given Host header. */
export function get(port: number, options: HttpOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.host !== undefined) headers.host = options.host;
    if (!options.agent) headers.connection = 'close';
    const req = httpRequest(
      {
        host: options.address ?? '127.0.0.1',
        port,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        headers,
        agent: options.agent ?? false,
        localAddress: options.localAddress,
        timeout: options.timeoutMs ?? 5000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to :${port}${options.path ?? '/'} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The JSON body of a response from test/helpers/backends.ts, with its backend name. */
export function backendOf(result: HttpResult): string {
  const parsed: unknown = JSON.parse(result.body);
  if (typeof parsed !== 'object' || parsed === null || !('backend' in parsed) || typeof parsed.backend !== 'string') {
    throw new Error(`not a backend answer: ${result.body.slice(0, 200)}`);
  }
  return parsed.backend;
}

/** The subject CN of the certificate served on 127.0.0.1:`port` for SNI `servername`. */
export function servedCertificateCn(port: number, servername?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      const cn = cert.subject?.CN;
      resolve(Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? ''));
    });
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('TLS handshake timed out')));
  });
}

/**
 * Polls `check` until it returns a value other than undefined/false, or throws with the last error. The
 * default bound is generous: a loaded machine must make a test slower, never red.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  const suffix = last instanceof Error ? `: ${last.message}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${suffix}`);
}

/** A load balancer run by a test: its own temp dir (state, YAML file), real HAProxy, optional etcd. */
export interface TestLb {
  readonly lb: RunningLb;
  readonly dir: string;
  readonly configPath: string;
  readonly adminSocket: string;
  /** Replaces the YAML file atomically (write + rename), as an editor or config tool would. */
  writeConfig(yaml: string): Promise<void>;
  /** The master's reload counter from `show proc`. */
  masterReloads(): Promise<number>;
  stop(): Promise<void>;
}

export interface TestLbOptions {
  etcdEndpoint?: string;
  etcdPrefix?: string;
  debounceMs?: number;
  statusPort?: number | null;
  /** Set QUAYSIDE_TEST_LOG=debug to see the controller's log on stderr. */
  logLevel?: string;
}

/** Writes `yaml` to a temp dir and starts a load balancer on it (state dir in the same temp dir). */
export async function startTestLb(yaml: string, options: TestLbOptions = {}): Promise<TestLb> {
  requireLbTools();
  const dir = await tempDir();
  const configPath = join(dir.path, 'lb.yaml');
  await writeFile(configPath, yaml);
  const logger = pino({ level: options.logLevel ?? process.env.QUAYSIDE_TEST_LOG ?? 'silent' }, destination(2));
  let lb: RunningLb;
  try {
    lb = await startLoadBalancer({
      configPath,
      etcdEndpoints: options.etcdEndpoint === undefined ? undefined : [options.etcdEndpoint],
      etcdPrefix: options.etcdPrefix,
      stateDir: join(dir.path, 'state'),
      logger,
      debounceMs: options.debounceMs ?? 100,
      statusPort: options.statusPort === undefined ? null : options.statusPort,
    });
  } catch (err) {
    await dir.remove();
    throw err;
  }
  let serial = 0;
  return {
    lb,
    dir: dir.path,
    configPath,
    adminSocket: lb.controller.paths.adminSocket,
    async writeConfig(text: string) {
      const tmp = join(dir.path, `.lb.yaml.${++serial}`);
      await writeFile(tmp, text);
      await rename(tmp, configPath);
    },
    async masterReloads() {
      // The master re-executes itself on each reload: its socket is briefly gone then.
      const master = new MasterSocket(lb.controller.paths.masterSocket);
      return waitFor('the master CLI', async () => (await master.showProc()).master.reloads, undefined, 20);
    },
    async stop() {
      await lb.stop();
      await dir.remove();
    },
  };
}
