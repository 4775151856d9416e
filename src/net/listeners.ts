/**
 * The extra listeners of `quayside serve`, all serving the one application: HTTPS (TLS terminated here) and
 * the PROXY protocol port (a PROXY v1/v2 header, then TLS or plain HTTP). After the handshake ALPN decides:
 * an HTTP/1.1 socket is handed to Fastify's HTTP/1 server as a connection (so its connection tracking,
 * limits and drain apply as to plain ones), an `h2` socket becomes an HTTP/2 session (./http2-sessions.ts)
 * whose requests reach the same handler.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { clientAddress } from './client-address.js';
import { terminateTls, toHttpServer } from './proxy-protocol-handoff.js';
import { createProxyProtocolServer } from './proxy-protocol-listener.js';
import type { ProxyProtocolMetrics } from './proxy-protocol-metrics.js';
import type { Http2Sessions } from './http2-sessions.js';
import type { ReloadingTlsContext } from './tls-context.js';

/** Where decrypted (or plain) connections go. */
export interface EdgeApplication {
  /** Fastify's HTTP/1 server (`app.server`): plain connections and TLS ones that chose http/1.1 or no ALPN. */
  http1: HttpServer;
  /** HTTP/2 sessions for TLS connections that chose `h2`. */
  http2: Http2Sessions;
}

/** Sends each decrypted socket to the HTTP/1 server or the HTTP/2 sessions, by the protocol ALPN chose. */
export function byNegotiatedProtocol(app: EdgeApplication): (socket: TLSSocket) => void {
  const http1 = toHttpServer(app.http1);
  return (socket) => {
    if (socket.alpnProtocol === 'h2') app.http2.accept(socket);
    else http1(socket);
  };
}

/** How long a TLS client may take to finish its handshake. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export type EdgeLogger = Pick<Logger, 'debug' | 'warn' | 'error' | 'info'>;

/** A TLS server whose decrypted connections go to `app`; its certificate follows `tls` (reloads included). */
export function createHttpsServer(app: EdgeApplication, tls: ReloadingTlsContext, logger: EdgeLogger): { server: TlsServer; detach: () => void } {
  const server = createTlsServer({
    ...tls.current.contextOptions,
    ALPNProtocols: tls.alpnProtocols,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  });
  const detach = tls.attach(server);
  const handOn = byNegotiatedProtocol(app);
  server.on('secureConnection', (socket: TLSSocket) => handOn(socket));
  // A scanner, a plain HTTP request or a client that does not trust the certificate: one debug line, no crash.
  server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
    logger.debug({ client: clientAddress(socket) }, `TLS handshake failed on the HTTPS port: ${error.message.split('\n')[0]}`);
    socket.destroy();
  });
  return { server, detach };
}

export interface ProxyListenerOptions {
  app: EdgeApplication;
  /** TLS after the header; undefined: plain HTTP after the header (EXTERNAL_TLS_TERMINATION). */
  tls: ReloadingTlsContext | undefined;
  logger: EdgeLogger;
  metrics?: ProxyProtocolMetrics;
}

/** The PROXY protocol port: header, then TLS with the current certificate or plain HTTP, then `app`. */
export function createProxyListener({ app, tls, logger, metrics }: ProxyListenerOptions): NetServer {
  const plain = toHttpServer(app.http1);
  const handoff = tls === undefined
    ? (socket: Socket) => plain(socket)
    : terminateTls({ tls, next: byNegotiatedProtocol(app), logger, handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, metrics });
  return createProxyProtocolServer({ handoff, logger, metrics });
}
