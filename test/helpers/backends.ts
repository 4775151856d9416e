// Tiny real backend servers for the load-balancer tests: each answers with who it is and what it saw, so a
// test can check routing, path rewriting, headers and client addresses THROUGH HAProxy.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { once } from 'node:events';

/** What an HTTP backend reports for each request (also its JSON response body). */
export interface EchoReport {
  backend: string;
  method: string;
  /** The request target as received (path and query). */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The TCP peer of the backend's socket (HAProxy's address, not the client's). */
  peer: string;
}

export interface HttpBackend {
  readonly name: string;
  readonly port: number;
  /** Requests seen so far, oldest first. */
  readonly requests: EchoReport[];
  /** When false, `healthPath` answers 503 (everything else still answers). */
  setHealthy(healthy: boolean): void;
  /** Answers the requests held by `?hold` (they stay open until then: a busy backend without a timer). */
  releaseHeld(): void;
  close(): Promise<void>;
}

export interface HttpBackendOptions {
  /** Path answering 200/503 by `setHealthy` (default `/health`). */
  healthPath?: string;
  host?: string;
  /** Fixed port (default: a free one). */
  port?: number;
}

/**
 * An HTTP backend answering every request with an EchoReport as JSON. `?hold` keeps the answer back until
 * releaseHeld() (for leastconn tests: the request is in `requests` as soon as it arrived); responses carry
 * `X-Backend: <name>`.
 */
export async function startHttpBackend(name: string, options: HttpBackendOptions = {}): Promise<HttpBackend> {
  const healthPath = options.healthPath ?? '/health';
  const requests: EchoReport[] = [];
  let healthy = true;
  let held: Array<() => void> = [];
  const server: HttpServer = createHttpServer((req: IncomingMessage, res) => {
    const report: EchoReport = {
      backend: name,
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      peer: `${req.socket.remoteAddress ?? ''}:${req.socket.remotePort ?? ''}`,
    };
    const url = new URL(req.url ?? '/', 'http://backend');
    if (url.pathname === healthPath) {
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain', 'x-backend': name });
      res.end(healthy ? 'ok\n' : 'unhealthy\n');
      return;
    }
    requests.push(report);
    const body = JSON.stringify(report);
    const answer = (): void => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-backend': name,
      });
      res.end(body);
    };
    if (url.searchParams.has('hold')) held.push(answer);
    else answer();
  });
  // Keep-alive from HAProxy must outlive HAProxy's own idle timeouts to avoid races in long tests.
  server.keepAliveTimeout = 65_000;
  trackSockets(server);
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    name,
    port,
    requests,
    setHealthy: (h) => {
      healthy = h;
    },
    releaseHeld: () => {
      const answers = held;
      held = [];
      for (const answer of answers) answer();
    },
    close: () => closeServer(server),
  };
}

/** A TCP backend that writes `<name>\n` on connect and then echoes what it receives. */
export interface TcpBackend {
  readonly name: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts a TcpBackend on a free loopback port. */
export async function startTcpBackend(name: string): Promise<TcpBackend> {
  const server = createNetServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.write(`${name}\n`);
    socket.pipe(socket);
  });
  const port = await listen(server);
  return { name, port, close: () => closeServer(server) };
}

/** The address information carried by a PROXY protocol header. */
export interface ProxyHeaderInfo {
  version: 1 | 2;
  /** TCP4/TCP6/UNKNOWN (v1); PROXY/LOCAL with family (v2). */
  command: string;
  sourceAddress: string | null;
  sourcePort: number | null;
  destinationAddress: string | null;
  destinationPort: number | null;
}

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/**
 * Parses a PROXY protocol v1 or v2 header at the start of `data`. Returns the header info and how many
 * bytes it used, `'incomplete'` when more bytes are needed, or throws on a malformed header.
 */
export function parseProxyHeader(data: Buffer): { info: ProxyHeaderInfo; length: number } | 'incomplete' {
  if (data.length >= 1 && data[0] === 0x0d) {
    if (data.length < 16) return 'incomplete';
    if (!data.subarray(0, 12).equals(V2_SIGNATURE)) throw new Error('bad PROXY v2 signature');
    const verCmd = data[12] ?? 0;
    if (verCmd >> 4 !== 2) throw new Error('bad PROXY v2 version');
    const famProto = data[13] ?? 0;
    const len = data.readUInt16BE(14);
    if (data.length < 16 + len) return 'incomplete';
    const body = data.subarray(16, 16 + len);
    const command = (verCmd & 0x0f) === 0 ? 'LOCAL' : 'PROXY';
    const family = famProto >> 4;
    let info: ProxyHeaderInfo = { version: 2, command, sourceAddress: null, sourcePort: null, destinationAddress: null, destinationPort: null };
    if (command === 'PROXY' && family === 1 && body.length >= 12) {
      info = {
        version: 2,
        command: 'PROXY TCP4',
        sourceAddress: [...body.subarray(0, 4)].join('.'),
        destinationAddress: [...body.subarray(4, 8)].join('.'),
        sourcePort: body.readUInt16BE(8),
        destinationPort: body.readUInt16BE(10),
      };
    } else if (command === 'PROXY' && family === 2 && body.length >= 36) {
      const ip6 = (b: Buffer): string => Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(':');
      info = {
        version: 2,
        command: 'PROXY TCP6',
        sourceAddress: ip6(body.subarray(0, 16)),
        destinationAddress: ip6(body.subarray(16, 32)),
        sourcePort: body.readUInt16BE(32),
        destinationPort: body.readUInt16BE(34),
      };
    }
    return { info, length: 16 + len };
  }
  const end = data.indexOf('\r\n');
  if (end < 0) {
    if (data.length > 107) throw new Error('PROXY v1 header too long');
    return 'incomplete';
  }
  const line = data.subarray(0, end).toString('latin1');
  const parts = line.split(' ');
  if (parts[0] !== 'PROXY') throw new Error(`not a PROXY header: ${JSON.stringify(line.slice(0, 40))}`);
  if (parts[1] === 'UNKNOWN') {
    return { info: { version: 1, command: 'UNKNOWN', sourceAddress: null, sourcePort: null, destinationAddress: null, destinationPort: null }, length: end + 2 };
  }
  if ((parts[1] !== 'TCP4' && parts[1] !== 'TCP6') || parts.length !== 6) throw new Error(`bad PROXY v1 line: ${line}`);
  return {
    info: {
      version: 1,
      command: parts[1],
      sourceAddress: parts[2] ?? null,
      destinationAddress: parts[3] ?? null,
      sourcePort: Number(parts[4]),
      destinationPort: Number(parts[5]),
    },
    length: end + 2,
  };
}

/** Builds a PROXY protocol header by hand (for tests that play the upstream balancer). */
export function buildProxyHeader(version: 1 | 2, src: string, srcPort: number, dst: string, dstPort: number): Buffer {
  if (version === 1) return Buffer.from(`PROXY TCP4 ${src} ${dst} ${srcPort} ${dstPort}\r\n`, 'latin1');
  const body = Buffer.alloc(12);
  src.split('.').forEach((o, i) => body.writeUInt8(Number(o), i));
  dst.split('.').forEach((o, i) => body.writeUInt8(Number(o), 4 + i));
  body.writeUInt16BE(srcPort, 8);
  body.writeUInt16BE(dstPort, 10);
  const head = Buffer.alloc(16);
  V2_SIGNATURE.copy(head, 0);
  head.writeUInt8(0x21, 12); // version 2, PROXY
  head.writeUInt8(0x11, 13); // AF_INET, STREAM
  head.writeUInt16BE(body.length, 14);
  return Buffer.concat([head, body]);
}

/** What the PROXY backend answers: its name, the header it got, and the first bytes after it. */
export interface ProxyReport {
  backend: string;
  proxy: ProxyHeaderInfo | null;
  error: string | null;
  /** First line of the payload after the header (e.g. the HTTP request line). */
  firstLine: string;
}

export interface ProxyBackend {
  readonly name: string;
  readonly port: number;
  readonly reports: ProxyReport[];
  close(): Promise<void>;
}

/**
 * A backend that requires a PROXY header (v1 or v2). It answers with its ProxyReport as JSON: as an HTTP
 * response when the payload is an HTTP request, otherwise as one raw line; then it closes. Health checks
 * that arrive without a header (or with LOCAL) get the same treatment and are reported too.
 */
export async function startProxyBackend(name: string): Promise<ProxyBackend> {
  const reports: ProxyReport[] = [];
  const server = createNetServer((socket: Socket) => {
    let buffered = Buffer.alloc(0);
    let header: ProxyHeaderInfo | null | undefined;
    let error: string | null = null;
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (header === undefined) {
        try {
          const parsed = parseProxyHeader(buffered);
          if (parsed === 'incomplete') return;
          header = parsed.info;
          buffered = buffered.subarray(parsed.length);
        } catch (err) {
          header = null;
          error = err instanceof Error ? err.message : String(err);
        }
      }
      const text = buffered.toString('latin1');
      const isHttp = /^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(text);
      if (isHttp && !text.includes('\r\n\r\n')) return;
      if (!isHttp && text.length === 0 && error === null) return;
      const report: ProxyReport = { backend: name, proxy: header ?? null, error, firstLine: text.split('\r\n')[0]?.split('\n')[0] ?? '' };
      reports.push(report);
      const body = JSON.stringify(report);
      if (isHttp) {
        socket.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\nx-backend: ${name}\r\n\r\n${body}`);
      } else {
        socket.end(`${body}\n`);
      }
      socket.removeAllListeners('data');
    });
  });
  const port = await listen(server);
  return { name, port, reports, close: () => closeServer(server) };
}

async function listen(server: NetServer): Promise<number> {
  trackSockets(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** Closes a server and destroys its open connections (a test must not wait for idle keep-alives). */
function closeServer(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const socket of openSockets.get(server) ?? []) socket.destroy();
  });
}

const openSockets = new WeakMap<NetServer | HttpServer, Set<Socket>>();

/** Remembers a server's sockets so that closeServer can end them. */
function trackSockets(server: NetServer | HttpServer): void {
  const sockets = new Set<Socket>();
  openSockets.set(server, sockets);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
}
