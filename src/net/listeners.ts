/**
 * The extra listeners of `quayside serve`, all serving the one HTTP application (Fastify's `app.server`):
 * HTTPS (TLS terminated here) and the PROXY protocol port (a PROXY v1/v2 header, then TLS or plain HTTP).
 * Decrypted sockets are handed to the HTTP server as connections, so its connection tracking, limits and
 * drain apply to them as to plain ones. HTTP/1.1 only: Fastify's HTTP/1 server cannot take HTTP/2 sessions.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { clientAddress } from './client-address.js';
import { terminateTls, toHttpServer } from './proxy-protocol-handoff.js';
import { createProxyProtocolServer } from './proxy-protocol-listener.js';
import type { ProxyProtocolMetrics } from './proxy-protocol-metrics.js';
import type { ReloadingTlsContext } from './tls-context.js';

/** How long a TLS client may take to finish its handshake. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export type EdgeLogger = Pick<Logger, 'debug' | 'warn' | 'error' | 'info'>;

/** A TLS server whose decrypted connections go to `app`; its certificate follows `tls` (reloads included). */
export function createHttpsServer(app: HttpServer, tls: ReloadingTlsContext, logger: EdgeLogger): { server: TlsServer; detach: () => void } {
  const server = createTlsServer({
    ...tls.current.contextOptions,
    ALPNProtocols: tls.alpnProtocols,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  });
  const detach = tls.attach(server);
  const handOn = toHttpServer(app);
  server.on('secureConnection', (socket: TLSSocket) => handOn(socket));
  // A scanner, a plain HTTP request or a client that does not trust the certificate: one debug line, no crash.
  server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
    logger.debug({ client: clientAddress(socket) }, `TLS handshake failed on the HTTPS port: ${error.message.split('\n')[0]}`);
    socket.destroy();
  });
  return { server, detach };
}

export interface ProxyListenerOptions {
  app: HttpServer;
  /** TLS after the header; undefined: plain HTTP after the header (EXTERNAL_TLS_TERMINATION). */
  tls: ReloadingTlsContext | undefined;
  logger: EdgeLogger;
  metrics?: ProxyProtocolMetrics;
}

/** The PROXY protocol port: header, then TLS with the current certificate or plain HTTP, then `app`. */
export function createProxyListener({ app, tls, logger, metrics }: ProxyListenerOptions): NetServer {
  const toApp = toHttpServer(app);
  const handoff = tls === undefined
    ? (socket: Socket) => toApp(socket)
    : terminateTls({ tls, next: toApp, logger, handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, metrics });
  return createProxyProtocolServer({ handoff, logger, metrics });
}
