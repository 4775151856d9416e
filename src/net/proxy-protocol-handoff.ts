/**
 * Where a socket goes after its PROXY header: an HTTP server (plain), or TLS termination with the
 * listener's reloading certificate, then an HTTP, HTTPS or HTTP/2 server.
 */
import type { Server as NetServer, Socket } from 'node:net';
import { TLSSocket, type SecureContext, type Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { clientAddress, setRealClientAddress } from './client-address.js';
import type { ProxyHandoff } from './proxy-protocol-listener.js';
import type { ProxyProtocolMetrics } from './proxy-protocol-metrics.js';

/** Hands a socket (plain or already decrypted) to an http.Server, e.g. Fastify's `app.server`. */
export function toHttpServer(server: NetServer): (socket: Socket) => void {
  return (socket) => {
    server.emit('connection', socket);
    // The listener paused the socket to put the header's trailing bytes back; http.Server does not resume it.
    socket.resume();
  };
}

/** Hands a decrypted socket to a tls.Server (https.Server, http2.createSecureServer) as if it had accepted it. */
export function toSecureServer(server: TlsServer): (socket: TLSSocket) => void {
  return (socket) => {
    // tls.Server's own accept path sets `server`; http2's HTTP/1.1 fallback reads it.
    const owned = socket as TLSSocket & { server?: TlsServer };
    if (owned.server === undefined) owned.server = server;
    server.emit('secureConnection', socket);
  };
}

/** What TLS termination needs from the certificate source (a ReloadingTlsContext fits). */
export interface TlsContextSource {
  readonly secureContext: SecureContext;
  readonly alpnProtocols: string[];
}

export interface TlsTerminationOptions {
  tls: TlsContextSource;
  /** Receives each socket once its handshake is done. */
  next: (socket: TLSSocket) => void;
  logger: Pick<Logger, 'debug'>;
  /** Deadline for the handshake (default 10000 ms). */
  handshakeTimeoutMs?: number;
  metrics?: ProxyProtocolMetrics;
}

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** A handoff that runs the TLS server handshake on the socket with the context current at that moment. */
export function terminateTls(options: TlsTerminationOptions): ProxyHandoff {
  const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  return (socket) => {
    const tlsSocket = new TLSSocket(socket, {
      isServer: true,
      secureContext: options.tls.secureContext,
      ALPNProtocols: options.tls.alpnProtocols,
    });
    setRealClientAddress(tlsSocket, clientAddress(socket));
    let done = false;
    const fail = (reason: 'timeout' | 'error', detail: string) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      options.metrics?.tlsHandshakeFailures.inc({ reason });
      options.logger.debug({ client: clientAddress(socket), reason }, `TLS handshake failed after the PROXY header: ${detail}`);
      tlsSocket.destroy();
    };
    const onHandshakeError = (error: Error) => fail('error', error.message);
    const deadline = setTimeout(() => fail('timeout', `not done within ${timeoutMs} ms`), timeoutMs);
    // Errors of the raw socket surface on the TLS socket; this one only keeps them from being uncaught.
    socket.on('error', () => tlsSocket.destroy());
    tlsSocket.on('error', onHandshakeError);
    // OpenSSL may answer garbage with an alert and a close, without an 'error' event.
    tlsSocket.once('close', () => fail('error', 'connection closed before the handshake completed'));
    tlsSocket.once('secure', () => {
      done = true;
      clearTimeout(deadline);
      // tls.Server clears this on its sockets once secure; http2 sessions wait for it otherwise.
      (tlsSocket as TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
      tlsSocket.removeListener('error', onHandshakeError);
      options.next(tlsSocket);
    });
  };
}
