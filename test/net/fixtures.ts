// Shared by the test/net tests: certificates made with openssl, a log sink, socket helpers and bounded polling.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { pino, type Logger } from 'pino';
import { requireCommand } from '../helpers/processes.js';

export async function tempDir(prefix = 'qnet-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export function run(command: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

export interface TestPki {
  dir: string;
  /** Root CA certificate (PEM), the only thing clients trust. */
  caCert: string;
  /** Issues a server certificate (with SANs localhost and 127.0.0.1) under an intermediate CA. */
  issue(name: string, serialHex: string): Promise<IssuedCertificate>;
  /** A fresh private key that matches no certificate. */
  strayKey(name: string): Promise<string>;
}

export interface IssuedCertificate {
  /** PEM: server certificate then the intermediate (what ssl.cert holds). */
  chain: string;
  /** PEM private key (what ssl.key holds). */
  key: string;
  serialHex: string;
}

/** A root CA and an intermediate made with openssl in `dir`; EC P-256 keeps generation fast. */
export async function makePki(dir: string): Promise<TestPki> {
  requireCommand('openssl', 'apt-get install openssl');
  const openssl = (...args: string[]) => run('openssl', args, dir);
  const ecKey = (out: string) => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out);
  await writeFile(
    join(dir, 'ext.cnf'),
    [
      '[ca]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      '[server]',
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = DNS:localhost, IP:127.0.0.1',
      '',
    ].join('\n'),
  );
  await ecKey('root.key');
  await openssl('req', '-x509', '-new', '-key', 'root.key', '-days', '2', '-subj', '/CN=Quayside Test Root', '-out', 'root.crt', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  await ecKey('inter.key');
  await openssl('req', '-new', '-key', 'inter.key', '-subj', '/CN=Quayside Test Intermediate', '-out', 'inter.csr');
  await openssl('x509', '-req', '-in', 'inter.csr', '-CA', 'root.crt', '-CAkey', 'root.key', '-set_serial', '0x1001', '-days', '2', '-extfile', 'ext.cnf', '-extensions', 'ca', '-out', 'inter.crt');
  const inter = await readFile(join(dir, 'inter.crt'), 'utf8');
  return {
    dir,
    caCert: await readFile(join(dir, 'root.crt'), 'utf8'),
    async issue(name, serialHex) {
      await ecKey(`${name}.key`);
      await openssl('req', '-new', '-key', `${name}.key`, '-subj', '/CN=localhost', '-out', `${name}.csr`);
      await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'inter.crt', '-CAkey', 'inter.key', '-set_serial', `0x${serialHex}`, '-days', '2', '-extfile', 'ext.cnf', '-extensions', 'server', '-out', `${name}.crt`);
      return { chain: (await readFile(join(dir, `${name}.crt`), 'utf8')) + inter, key: await readFile(join(dir, `${name}.key`), 'utf8'), serialHex };
    },
    async strayKey(name) {
      await ecKey(`${name}.key`);
      return readFile(join(dir, `${name}.key`), 'utf8');
    },
  };
}

/** Replaces a file the way renewal tools do: write a temporary file next to it, then rename over it. */
export async function replaceFile(path: string, contents: string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(temporary, contents);
  await rename(temporary, path);
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger at debug level whose lines are kept in memory. */
export function captureLogs(): { logger: Logger; lines: LogLine[]; at(level: 'debug' | 'info' | 'warn' | 'error'): LogLine[] } {
  const lines: LogLine[] = [];
  const levels = { debug: 20, info: 30, warn: 40, error: 50 };
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines, at: (level) => lines.filter((l) => l.level === levels[level]) };
}

/** Polls `check` until it returns a value other than undefined/false (bounded; never a fixed sleep). */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(10);
  }
}

export function connectTcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the peer sends until it closes, and whether it reset the connection. */
export function readUntilClosed(socket: Socket): Promise<{ data: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', () => resolve({ data: Buffer.concat(chunks), ...(error === undefined ? {} : { error }) }));
  });
}

/** Sends `preamble` (a PROXY header) on a fresh TCP connection, then runs a TLS client over it. */
export async function tlsOverProxy(port: number, preamble: Buffer, options: { ca: string; alpn?: string[] }): Promise<TLSSocket> {
  const raw = await connectTcp(port);
  raw.write(preamble);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ socket: raw, servername: 'localhost', ca: options.ca, ALPNProtocols: options.alpn ?? ['http/1.1'] }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** One HTTP/1.1 request on an open (plain or TLS) socket; resolves with the body of a Content-Length response. */
export function httpOverSocket(socket: Socket, path: string, keepAlive = false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? 'NaN');
      if (received.length < end + 4 + length) return;
      socket.removeListener('data', onData);
      socket.removeListener('error', reject);
      resolve({ status: Number(text.slice(9, 12)), body: received.subarray(end + 4, end + 4 + length).toString('utf8') });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`);
  });
}
