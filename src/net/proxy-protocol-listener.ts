/**
 * The PROXY protocol port (Quay's 8443): a net.Server that reads the v1/v2 header of each connection within
 * a deadline, records the real client address on the socket, and hands the socket (with every byte after
 * the header) on: to an HTTP server, or through TLS termination (see ./proxy-protocol-handoff.ts). A
 * connection that is slow, malformed or closed early is destroyed with one log line and a counter; it
 * holds nothing that other connections wait for.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { parseProxyHeader, type ProxyHeader, type ProxyParseOptions } from '../proxyproto/parse.js';
import { setRealClientAddress } from './client-address.js';
import type { ProxyProtocolMetrics, ProxyRejection } from './proxy-protocol-metrics.js';

/** Takes a socket whose PROXY header has been consumed; the next byte it reads is the client's first. */
export type ProxyHandoff = (socket: Socket, header: ProxyHeader) => void;

export interface ProxyProtocolListenerOptions {
  handoff: ProxyHandoff;
  logger: Pick<Logger, 'warn' | 'debug' | 'error'>;
  /** Deadline for the whole header, from accept (default 5000 ms): trickling bytes do not extend it. */
  headerTimeoutMs?: number;
  parse?: ProxyParseOptions;
  metrics?: ProxyProtocolMetrics;
}

export const DEFAULT_HEADER_TIMEOUT_MS = 5000;

/** A server for the PROXY protocol port; call listen() on it as on any net.Server. */
export function createProxyProtocolServer(options: ProxyProtocolListenerOptions): Server {
  const server = createServer({ pauseOnConnect: false }, (socket) => readHeader(socket, options));
  return server;
}

/** Reads the header from an accepted socket (exported for listeners that accept sockets themselves). */
export function readHeader(socket: Socket, options: ProxyProtocolListenerOptions): void {
  const timeoutMs = options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
  const peer = { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort };
  let received: Buffer = Buffer.alloc(0);
  let settled = false;

  const settle = () => {
    settled = true;
    clearTimeout(deadline);
    socket.removeListener('data', onData);
    socket.removeListener('end', onClosed);
    socket.removeListener('close', onClosed);
    socket.removeListener('error', onError);
  };

  const refuse = (reason: ProxyRejection, detail: string) => {
    if (settled) return;
    settle();
    options.metrics?.rejected.inc({ reason });
    const line = `PROXY protocol connection closed: ${detail}`;
    // A balancer's plain TCP health check connects and leaves without a byte: count it, do not shout.
    if (reason === 'closed') options.logger.debug({ ...peer, reason, bytes: received.length }, line);
    else options.logger.warn({ ...peer, reason, bytes: received.length }, line);
    // Keep an error listener: a destroyed socket may still report the reset that caused it.
    socket.on('error', ignore);
    socket.destroy();
  };

  const onData = (chunk: Buffer) => {
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    const result = parseProxyHeader(received, options.parse);
    if (result.status === 'incomplete') return;
    if (result.status === 'invalid') {
      refuse('malformed', result.reason);
      return;
    }
    settle();
    socket.pause();
    const rest = received.subarray(result.length);
    if (rest.length > 0) socket.unshift(rest);
    received = Buffer.alloc(0);
    const { header } = result;
    const addresses = header.addresses;
    if (addresses && addresses.family !== 'unix') setRealClientAddress(socket, addresses.source.address);
    options.metrics?.headers.inc({ version: String(header.version), command: header.command });
    try {
      options.handoff(socket, header);
    } catch (error) {
      options.logger.error({ ...peer, err: error }, 'PROXY protocol connection closed: the handoff failed');
      socket.on('error', ignore);
      socket.destroy();
    }
  };

  const onClosed = () => refuse('closed', received.length === 0 ? 'closed by the peer before sending anything' : `closed by the peer after ${received.length} bytes of an incomplete header`);
  const onError = (error: Error) => refuse('closed', `connection error before a complete header (${error.message})`);

  const deadline = setTimeout(() => refuse('timeout', `no complete header within ${timeoutMs} ms (${received.length} bytes received)`), timeoutMs);
  socket.on('data', onData);
  socket.on('end', onClosed);
  socket.on('close', onClosed);
  socket.on('error', onError);
}

function ignore(): void {}
