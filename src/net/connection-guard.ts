import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config/schema.js';
import { clientAddress } from './client-address.js';

/**
 * Bounds on what one client connection may hold: time to send its headers, time idle between requests,
 * time without any byte moving while a request is in flight (a slow body must still make progress), and
 * how many connections the instance keeps at once. Without them a trickle of slow or idle clients holds
 * sockets and temporary files forever, until file descriptors run out and the database cannot connect.
 */

/** The connection settings, in milliseconds and a count. */
export interface ConnectionLimits {
  /** A request's headers must have arrived this long after its first byte (HTTP_HEADERS_TIMEOUT_S); else 408. */
  headersTimeoutMs: number;
  /** A keep-alive connection with no request in flight is closed after this long (HTTP_IDLE_TIMEOUT_S). */
  idleTimeoutMs: number;
  /**
   * A connection on which no byte moved in either direction for this long is cut (HTTP_BODY_IDLE_TIMEOUT_S):
   * a blob upload may be slow, but it must make progress. Cutting it aborts the upload's append, which puts
   * the temporary object back as it was.
   */
  bodyIdleTimeoutMs: number;
  /** Connections over this many get a 503 and are closed (HTTP_MAX_CONNECTIONS). */
  maxConnections: number;
}

/** The limits config.yaml sets. */
export function connectionLimitsFrom(config: Config): ConnectionLimits {
  return {
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_S * 1000,
    idleTimeoutMs: config.HTTP_IDLE_TIMEOUT_S * 1000,
    bodyIdleTimeoutMs: config.HTTP_BODY_IDLE_TIMEOUT_S * 1000,
    maxConnections: config.HTTP_MAX_CONNECTIONS,
  };
}

/** Where the guard reports; a pino logger fits. */
export interface GuardLog {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

export interface GuardOptions {
  /** Repeated events of one kind are logged once per window, with a count (default 10 s). */
  reportWindowMs?: number;
}

/** How long a refused connection may take to send its first bytes and read the 503. */
const REFUSAL_LINGER_MS = 2000;

/** The JSON body of the 503 a refused connection gets (HTTP/1.1 here, HTTP/2 in ./http2-sessions.ts). */
export function refusalBody(limit: number): string {
  return JSON.stringify({
    errors: [{ code: 'UNAVAILABLE', message: 'too many connections to this instance; retry later', detail: { limit } }],
  });
}

function refusalResponse(limit: number): string {
  const body = refusalBody(limit);
  return [
    'HTTP/1.1 503 Service Unavailable',
    'Content-Type: application/json; charset=utf-8',
    'Retry-After: 1',
    'Connection: close',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/**
 * Logs the first event of a burst at once and the rest as one count at the end of the window, so that
 * ten thousand refusals make two lines, not ten thousand.
 */
class BurstReport {
  private pending = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly windowMs: number,
    private readonly first: (fields: Record<string, unknown>) => void,
    private readonly summary: (count: number) => void,
  ) {}

  record(fields: Record<string, unknown>): void {
    if (this.timer !== undefined) {
      this.pending += 1;
      return;
    }
    this.first(fields);
    this.timer = setTimeout(() => this.closeWindow(), this.windowMs).unref();
  }

  private closeWindow(): void {
    this.timer = undefined;
    if (this.pending === 0) return;
    const count = this.pending;
    this.pending = 0;
    this.summary(count);
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending > 0) this.summary(this.pending);
    this.pending = 0;
  }
}

/** The soft limit on open files of this process (Linux), or undefined where it cannot be read. */
export function openFilesLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (match === null || match[1] === 'unlimited') return undefined;
  return Number(match[1]);
}

/** A connection may hold two descriptors (its socket and a blob file); the rest is the pool's and the logs'. */
const FILES_PER_CONNECTION = 2;
const FILES_RESERVED = 256;

/** What guardConnections installed, to be stopped when the server closes. */
export interface ConnectionGuard {
  /** Connections accepted and still open. */
  openConnections(): number;
  /**
   * Counts a connection that reaches the application some other way than the HTTP server's 'connection'
   * event (an HTTP/2 session): true when it is within HTTP_MAX_CONNECTIONS (it is counted until it closes),
   * false when it must be refused (logged here; the caller answers it in its own protocol).
   */
  admit(socket: Socket): boolean;
  /** Writes the last pending log summaries and stops the log timers. */
  stop(): void;
}

/**
 * Applies `limits` to an HTTP server. Call it before the server listens: Node reads how often it checks
 * header deadlines when listening starts.
 */
/**
 * Whether a connection on which nothing moved is waiting for its client: a request body of which nothing is
 * buffered (the server would read more if the client sent it), or a response whose bytes sit unsent in the
 * socket (the client does not read). Otherwise the server is busy with the request, e.g. it stopped reading
 * an upload's body while its storage takes a part, or it waits for the first bytes of a blob from storage.
 */
function waitsOnTheClient(request: IncomingMessage, reply: ServerResponse, socket: Socket): boolean {
  if (!request.complete) return request.readableLength === 0 && !reply.headersSent;
  return reply.headersSent && socket.writableLength > 0;
}

export function guardConnections(server: Server, limits: ConnectionLimits, log: GuardLog, options: GuardOptions = {}): ConnectionGuard {
  const windowMs = options.reportWindowMs ?? 10_000;
  server.headersTimeout = limits.headersTimeoutMs;
  // No bound on a whole request: a 10 GiB layer takes as long as it takes, as long as it keeps moving.
  server.requestTimeout = 0;
  server.keepAliveTimeout = limits.idleTimeoutMs;
  // Node checks header deadlines on a timer (30 s by default, the createServer option connectionsCheckingInterval,
  // read when listening starts); check often enough that the deadline means something.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(100, Math.min(30_000, Math.floor(limits.headersTimeoutMs / 4)));

  const stalled = new BurstReport(
    windowMs,
    (fields) => log.info({ ...fields, timeoutMs: limits.bodyIdleTimeoutMs }, 'closed a connection on which nothing moved (HTTP_BODY_IDLE_TIMEOUT_S)'),
    (count) => log.info({ count, timeoutMs: limits.bodyIdleTimeoutMs }, 'closed more connections on which nothing moved'),
  );
  // Node's keep-alive timer fires the same socket 'timeout' as inactivity does; only a connection with a
  // request in flight was stalled, an idle one simply ran out its keep-alive time.
  const inFlight = new WeakMap<Socket, { request: IncomingMessage; reply: ServerResponse }>();
  server.on('request', (request: IncomingMessage, reply: ServerResponse) => {
    const socket = request.socket;
    inFlight.set(socket, { request, reply });
    reply.once('close', () => inFlight.delete(socket));
  });
  // With a 'timeout' listener Node leaves the socket to us; an in-flight upload sees the close and rolls back.
  server.setTimeout(limits.bodyIdleTimeoutMs, (socket: Socket) => {
    const current = inFlight.get(socket);
    if (current !== undefined && !waitsOnTheClient(current.request, current.reply, socket)) {
      // The server itself is the slow side (a storage call, which has deadlines of its own): the client did
      // nothing wrong, so the connection stays and the idle timer starts again.
      socket.setTimeout(limits.bodyIdleTimeoutMs);
      return;
    }
    if (current !== undefined) stalled.record({ client: clientAddress(socket) });
    socket.destroy();
  });

  let open = 0;
  const refused = new BurstReport(
    windowMs,
    (fields) => log.warn({ ...fields, limit: limits.maxConnections }, 'refusing connections: HTTP_MAX_CONNECTIONS reached'),
    (count) => log.warn({ refused: count, limit: limits.maxConnections }, 'refused more connections at HTTP_MAX_CONNECTIONS'),
  );
  const response = refusalResponse(limits.maxConnections);
  const admit = (socket: Socket): boolean => {
    if (open >= limits.maxConnections) {
      refused.record({ open, client: clientAddress(socket) });
      return false;
    }
    open += 1;
    socket.once('close', () => {
      open -= 1;
    });
    return true;
  };
  const refuse = (socket: Socket): void => {
    socket.on('error', () => undefined);
    socket.setTimeout(REFUSAL_LINGER_MS, () => socket.destroy());
    // Answer once the client has sent its request, so that it reads the 503 as the answer to it; what it sends
    // is discarded (a flowing socket without further 'data' listeners drops it).
    socket.once('data', () => socket.end(response));
  };

  // http.Server hands each socket to its 'connection' listeners; gate them so that a refused socket never
  // reaches the HTTP parser (and so never becomes a request the application would answer too).
  const handlers = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    if (!admit(socket)) {
      refuse(socket);
      return;
    }
    for (const handler of handlers) handler.call(server, socket);
  });
  // A flood beyond the limit is answered until this many sockets exist in all; past that the kernel's
  // connection is closed unanswered, so refusing itself cannot exhaust descriptors.
  server.maxConnections = limits.maxConnections + Math.max(64, Math.ceil(limits.maxConnections / 10));

  const files = openFilesLimit();
  const needed = server.maxConnections * FILES_PER_CONNECTION + FILES_RESERVED;
  if (files !== undefined && needed > files) {
    log.warn(
      { maxConnections: limits.maxConnections, openFilesLimit: files, needed },
      'HTTP_MAX_CONNECTIONS is high for this process\'s open-files limit (ulimit -n): lower it or raise the limit, or the database may fail to connect (EMFILE) under load',
    );
  }
  return {
    openConnections: () => open,
    admit,
    stop() {
      refused.stop();
      stalled.stop();
    },
  };
}
