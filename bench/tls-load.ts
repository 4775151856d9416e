// A keep-alive GET load generator on raw sockets that can speak what wrk cannot: a PROXY v2 header, then TLS,
// then HTTP/1.1 on the same connection. The same loop drives plain, TLS and PROXY+TLS endpoints, so two figures
// differ by the transport only. All connections are opened (handshakes done) before the clock starts: the
// figure is the steady state of long-lived clients, as docker's and a balancer's pooled connections are.
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { openConnection, type Endpoint } from './tls-connect.js';

/** What one load run measured. */
export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Responses outside 2xx: a non-zero count means the figure measures errors, not work. */
  non2xx: number;
  socketErrors: number;
  /** CPU the server process used per completed request (user + system), in microseconds. */
  serverCpuUsPerRequest: number;
  /** Share of one core the load generator (this process) used over the run: near 100 % means it limited the rate. */
  clientCpuPercent: number;
  /** Share of one core the server used. */
  serverCpuPercent: number;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of a process (all its threads), in seconds; 0 when it cannot be read. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces; the fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Reads one response after another off a socket: headers, then Content-Length bytes of body. */
class ResponseReader {
  private pending: Buffer = Buffer.alloc(0);
  private head: { status: number; bodyLength: number; close: boolean; headLength: number } | undefined;

  /** Feeds bytes; calls `onResponse` for each complete response. */
  feed(chunk: Buffer, onResponse: (status: number, close: boolean) => void): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      if (this.head === undefined) {
        const end = this.pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const text = this.pending.toString('latin1', 0, end);
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(text);
        if (length === null) throw new Error(`response without Content-Length (status ${status}); this loader reads only those`);
        this.head = { status, bodyLength: Number(length[1]), close: /\r\nconnection:\s*close/i.test(text), headLength: end + 4 };
      }
      const total = this.head.headLength + this.head.bodyLength;
      if (this.pending.length < total) return;
      const { status, close } = this.head;
      this.pending = this.pending.subarray(total);
      this.head = undefined;
      onResponse(status, close);
    }
  }
}

/**
 * GET `path` on `connections` keep-alive connections to `endpoint`, one request in flight on each, for
 * `seconds` after every connection is open. `serverPid` is sampled for the server's CPU per request.
 */
export async function getLoad(
  endpoint: Endpoint,
  path: string,
  options: { connections: number; seconds: number; headers?: Record<string, string>; serverPid: number },
): Promise<LoadResult> {
  const extra = Object.entries(options.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${endpoint.host}:${endpoint.port}\r\n${extra}\r\n`);
  const opened = await Promise.allSettled(Array.from({ length: options.connections }, () => openConnection(endpoint)));
  const sockets = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const refused = opened.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (refused !== undefined) {
    // One connection that cannot be opened fails the run; the others must not be left open behind it.
    for (const socket of sockets) socket.destroy();
    throw new Error(`${endpoint.label}: ${sockets.length} of ${options.connections} connections opened: ${String(refused.reason)}`);
  }

  let latencies = new Float64Array(1 << 16);
  let count = 0;
  let non2xx = 0;
  let socketErrors = 0;
  const record = (ms: number) => {
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count] = ms;
    count += 1;
  };

  const serverCpuStart = processCpuSeconds(options.serverPid);
  const clientCpuStart = process.cpuUsage();
  const start = performance.now();
  const deadline = start + options.seconds * 1000;

  const drive = (socket: Socket) =>
    new Promise<void>((finished) => {
      const reader = new ResponseReader();
      let sentAt = 0;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(guard);
        socket.destroy();
        finished();
      };
      // A server that stops answering must not hold the run past its deadline.
      const guard = setTimeout(finish, options.seconds * 1000 + 10_000);
      const send = () => {
        if (performance.now() >= deadline) {
          finish();
          return;
        }
        sentAt = performance.now();
        socket.write(request);
      };
      socket.on('data', (chunk: Buffer) => {
        try {
          reader.feed(chunk, (status, close) => {
            record(performance.now() - sentAt);
            if (status < 200 || status >= 300) non2xx += 1;
            if (close) {
              // The figure is for keep-alive connections; a server that closes them is an error to report.
              socketErrors += 1;
              finish();
              return;
            }
            send();
          });
        } catch {
          socketErrors += 1;
          finish();
        }
      });
      socket.on('error', () => {
        socketErrors += 1;
        finish();
      });
      socket.on('close', () => {
        if (!done) socketErrors += 1;
        finish();
      });
      send();
    });

  await Promise.all(sockets.map(drive));
  const elapsed = (performance.now() - start) / 1000;
  const clientCpu = process.cpuUsage(clientCpuStart);
  const serverCpu = processCpuSeconds(options.serverPid) - serverCpuStart;
  const sorted = latencies.slice(0, count).sort();
  return {
    requestsPerSecond: count / elapsed,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    requests: count,
    non2xx,
    socketErrors,
    serverCpuUsPerRequest: count > 0 ? (serverCpu * 1e6) / count : 0,
    clientCpuPercent: ((clientCpu.user + clientCpu.system) / 1e6 / elapsed) * 100,
    serverCpuPercent: (serverCpu / elapsed) * 100,
  };
}

/** One request on `socket`; resolves with its status once the whole response is in. */
function oneExchange(socket: Socket, request: Buffer): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const reader = new ResponseReader();
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.feed(chunk, (status) => resolveStatus(status));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.on('error', reject);
    socket.once('close', () => reject(new Error('connection closed before the response was complete')));
    socket.write(request);
  });
}

/**
 * GET `path` on a new connection each time (TCP, PROXY header and TLS handshake included, no session
 * resumption), `concurrency` at once, for `seconds`: what a client that does not keep connections alive costs.
 */
export async function newConnectionLoad(
  endpoint: Endpoint,
  path: string,
  options: { concurrency: number; seconds: number; headers?: Record<string, string>; serverPid: number },
): Promise<LoadResult> {
  const extra = Object.entries(options.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${endpoint.host}:${endpoint.port}\r\nConnection: close\r\n${extra}\r\n`);
  const latencies: number[] = [];
  let non2xx = 0;
  let socketErrors = 0;
  const serverCpuStart = processCpuSeconds(options.serverPid);
  const clientCpuStart = process.cpuUsage();
  const start = performance.now();
  const deadline = start + options.seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const sentAt = performance.now();
      let socket: Socket | undefined;
      try {
        socket = await openConnection(endpoint);
        const status = await oneExchange(socket, request);
        latencies.push(performance.now() - sentAt);
        if (status < 200 || status >= 300) non2xx += 1;
      } catch {
        socketErrors += 1;
      } finally {
        socket?.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  const clientCpu = process.cpuUsage(clientCpuStart);
  const serverCpu = processCpuSeconds(options.serverPid) - serverCpuStart;
  const sorted = Float64Array.from(latencies).sort();
  return {
    requestsPerSecond: latencies.length / elapsed,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    requests: latencies.length,
    non2xx,
    socketErrors,
    serverCpuUsPerRequest: latencies.length > 0 ? (serverCpu * 1e6) / latencies.length : 0,
    clientCpuPercent: ((clientCpu.user + clientCpu.system) / 1e6 / elapsed) * 100,
    serverCpuPercent: (serverCpu / elapsed) * 100,
  };
}
