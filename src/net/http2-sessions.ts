/**
 * HTTP/2 for the TLS listeners. A TLS socket whose ALPN chose `h2` becomes an HTTP/2 session of a plain
 * (not TLS) http2 server: the socket is already decrypted, so the server only frames. Its requests go to the
 * same request handler as Fastify's HTTP/1 server (`app.routing`), through Node's compatibility API. The
 * session counts against HTTP_MAX_CONNECTIONS with the HTTP/1 connections, is closed after
 * HTTP_IDLE_TIMEOUT_S without traffic and without a stream open, a stream on which nothing moves for HTTP_BODY_IDLE_TIMEOUT_S is
 * cancelled, and the drain sends GOAWAY: streams in flight finish, no new ones start.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, createServer, type ServerHttp2Stream, type Http2Server, type Http2Session, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { clientAddress } from './client-address.js';
import { refusalBody, type ConnectionGuard, type ConnectionLimits } from './connection-guard.js';

/** The application's request handler (Fastify's `app.routing`); it serves HTTP/1 and HTTP/2 requests alike. */
export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

export interface Http2SessionsOptions {
  handler: RequestHandler;
  guard: Pick<ConnectionGuard, 'admit'>;
  limits: Pick<ConnectionLimits, 'idleTimeoutMs' | 'bodyIdleTimeoutMs' | 'maxConnections'>;
  logger: Pick<Logger, 'debug' | 'warn'>;
}

export interface Http2Sessions {
  /** Takes a decrypted TLS socket that negotiated `h2`. */
  accept(socket: TLSSocket): void;
  /** Sessions open now. */
  openSessions(): number;
  /** GOAWAY to every session (and to any that starts from now on); each closes when its streams are done. */
  drain(): void;
  /** Resolves once no session is open. */
  closed(): Promise<void>;
  /** Cuts every session (the drain window is over). */
  destroyAll(): void;
}

/**
 * Flow-control windows: what a client may send before the server reads it (uploads); memory per session stays
 * under Node's maxSessionMemory (10 MB) since the application's reads replenish them only as it consumes.
 */
const STREAM_WINDOW_BYTES = 1024 * 1024;
const SESSION_WINDOW_BYTES = 4 * 1024 * 1024;

/** Marks a socket refused at HTTP_MAX_CONNECTIONS; read back through the session's socket proxy. */
const REFUSED = Symbol('quayside.http2Refused');

/**
 * HTTP/2 marks a request body by its DATA frames, not by a header; the application knows HTTP/1.1's signs of
 * a body (Content-Length, Transfer-Encoding), so a body sent without a length gets the one for unknown length.
 */
function markBodyOfUnknownLength(request: Http2ServerRequest): void {
  if (!request.stream.endAfterHeaders && request.headers['content-length'] === undefined) request.headers['transfer-encoding'] = 'chunked';
}

type End = (chunk?: unknown, encoding?: unknown, callback?: unknown) => Http2ServerResponse;
type Write = (chunk: unknown, encoding?: unknown) => boolean;

/**
 * Node's compatibility `end(chunk)` writes the chunk through `this.write()`, so a wrapper of both on the
 * response (the request log's byte count) would count it twice; here end writes it past the instance.
 */
function endWritesOnce(response: Http2ServerResponse): void {
  const prototype = Object.getPrototypeOf(response) as { end: End; write: Write };
  (response as unknown as { end: End }).end = function endOnce(this: Http2ServerResponse, chunk?: unknown, encoding?: unknown, callback?: unknown) {
    if (typeof chunk === 'function' || chunk === undefined || chunk === null || this.writableEnded) return prototype.end.call(this, chunk, encoding, callback);
    prototype.write.call(this, chunk, typeof encoding === 'string' ? encoding : undefined);
    return prototype.end.call(this, typeof encoding === 'function' ? encoding : callback);
  };
}

export function createHttp2Sessions(options: Http2SessionsOptions): Http2Sessions {
  const { handler, guard, limits, logger } = options;
  const sessions = new Set<ServerHttp2Session>();
  const openStreams = new WeakMap<Http2Session, number>();
  const waiting: Array<() => void> = [];
  let draining = false;
  const refusal = refusalBody(limits.maxConnections);

  const server: Http2Server = createServer({ settings: { initialWindowSize: STREAM_WINDOW_BYTES } }, (request: Http2ServerRequest, response: Http2ServerResponse) => {
    const session = request.stream.session;
    if (session !== undefined && (session.socket as unknown as Record<symbol, unknown>)[REFUSED] === true) {
      response.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' });
      response.end(refusal);
      session.close();
      return;
    }
    markBodyOfUnknownLength(request);
    endWritesOnce(response);
    handler(request as unknown as IncomingMessage, response as unknown as ServerResponse);
  });

  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => {
      sessions.delete(session);
      if (sessions.size === 0) for (const resolve of waiting.splice(0)) resolve();
    });
    // A client that leaves mid-stream or sends a bad frame: the session ends, nothing else is disturbed.
    session.on('error', (error: Error) => logger.debug({ client: clientAddress(session.socket as unknown as TLSSocket) }, `HTTP/2 session error: ${error.message}`));
    // Idle means no stream open (HTTP_IDLE_TIMEOUT_S is a keep-alive bound); a stalled stream has its own timer.
    session.setTimeout(limits.idleTimeoutMs, () => {
      if ((openStreams.get(session) ?? 0) === 0) session.close();
    });
    // Node's default connection window (64 KiB) would hold an upload to one window per round trip.
    session.setLocalWindowSize(SESSION_WINDOW_BYTES);
    if (draining) session.close();
  });
  server.on('stream', (stream) => {
    const session = stream.session;
    if (session !== undefined) {
      openStreams.set(session, (openStreams.get(session) ?? 0) + 1);
      stream.once('close', () => openStreams.set(session, (openStreams.get(session) ?? 1) - 1));
    }
    // As for HTTP/1.1 (connection-guard.ts): only a stream that waits on its client is cut; one that waits on
    // the server (its storage) starts its idle timer again (a stream's timeout callback is called once).
    const onIdle = () => {
      if (streamWaitsOnTheClient(stream)) stream.close(constants.NGHTTP2_CANCEL);
      else stream.setTimeout(limits.bodyIdleTimeoutMs, onIdle);
    };
    stream.setTimeout(limits.bodyIdleTimeoutMs, onIdle);
    stream.on('error', () => undefined);
  });

  return {
    accept(socket) {
      if (!guard.admit(socket)) (socket as unknown as Record<symbol, unknown>)[REFUSED] = true;
      // The plain http2 server's connection listener starts a session on any socket whose ALPN is h2.
      server.emit('connection', socket);
    },
    openSessions: () => sessions.size,
    drain() {
      draining = true;
      for (const session of sessions) session.close();
    },
    closed() {
      if (sessions.size === 0) return Promise.resolve();
      return new Promise((resolve) => waiting.push(resolve));
    },
    destroyAll() {
      for (const session of sessions) session.destroy();
    },
  };
}

/**
 * Whether a stream on which nothing moved waits on its client: a response whose bytes sit unsent (the client
 * does not read), or a request body of which nothing is buffered and whose end has not come.
 */
function streamWaitsOnTheClient(stream: ServerHttp2Stream): boolean {
  if (stream.headersSent) return stream.writableLength > 0;
  if (stream.endAfterHeaders) return false;
  return stream.readableLength === 0 && !stream.readableEnded;
}
