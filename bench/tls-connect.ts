// How the TLS benchmark's clients reach a server: plain TCP, TLS, or (as a TCP balancer with send-proxy-v2
// would) a PROXY v2 header first and then TLS on the same connection. One function opens a ready socket for the
// raw-socket load generator; an Agent does the same for node:http/node:https requests (pushes and pulls).
import { Agent as HttpAgent, type ClientRequestArgs } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { connect as connectTcp, isIPv4, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as connectTls, type TLSSocket } from 'node:tls';

/** How bytes travel to the server. */
export type Transport = 'http' | 'https' | 'proxy-https';

/** One server port as a client sees it. */
export interface Endpoint {
  /** Shown in the report, e.g. "quayside PROXY+TLS". */
  label: string;
  host: string;
  port: number;
  transport: Transport;
  /** The CA that signed the server's certificate (TLS transports). */
  ca?: string;
}

/** The URL a node:http(s) request goes to (the PROXY header travels below it, in the Agent). */
export function baseUrl(endpoint: Endpoint): string {
  return `${endpoint.transport === 'http' ? 'http' : 'https'}://${endpoint.host}:${endpoint.port}`;
}

const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function ipv4Bytes(address: string): number[] {
  if (!isIPv4(address)) throw new Error(`PROXY v2 TCP4 header needs IPv4 addresses, got ${address}`);
  return address.split('.').map(Number);
}

/**
 * A PROXY protocol v2 header, command PROXY, TCP over IPv4, no TLVs (what HAProxy's send-proxy-v2 sends by
 * default): the 12-byte signature, version/command 0x21, family 0x11, length 12, then source and destination
 * address and port. Built here rather than with the project's parser folder, so the benchmark checks nothing
 * against itself.
 */
export function proxyV2Header(source: { address: string; port: number }, destination: { address: string; port: number }): Buffer {
  const header = Buffer.alloc(16 + 12);
  PROXY_V2_SIGNATURE.copy(header, 0);
  header[12] = 0x21;
  header[13] = 0x11;
  header.writeUInt16BE(12, 14);
  Buffer.from(ipv4Bytes(source.address)).copy(header, 16);
  Buffer.from(ipv4Bytes(destination.address)).copy(header, 20);
  header.writeUInt16BE(source.port, 24);
  header.writeUInt16BE(destination.port, 26);
  return header;
}

function tcpConnected(host: string, port: number): Promise<Socket> {
  return new Promise((resolveSocket, reject) => {
    const socket = connectTcp({ host, port });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolveSocket(socket);
    });
    socket.once('error', reject);
  });
}

function tlsOver(socket: Socket | undefined, endpoint: Endpoint): Promise<TLSSocket> {
  return new Promise((resolveSocket, reject) => {
    // No ALPN offered: the load speaks HTTP/1.1, as wrk does; the server offers http/1.1 only anyway.
    const tls = connectTls({ socket, host: endpoint.host, port: endpoint.port, ca: endpoint.ca });
    tls.once('secureConnect', () => {
      tls.off('error', reject);
      resolveSocket(tls);
    });
    tls.once('error', reject);
  });
}

/**
 * A connected socket ready for HTTP/1.1 bytes: TCP (http), TLS done (https), or the PROXY v2 header written
 * and then TLS done over the same TCP connection (proxy-https). The header carries the socket's own addresses.
 */
export async function openConnection(endpoint: Endpoint): Promise<Socket> {
  if (endpoint.transport === 'http') {
    const socket = await tcpConnected(endpoint.host, endpoint.port);
    socket.setNoDelay(true);
    return socket;
  }
  if (endpoint.transport === 'https') {
    const tls = await tlsOver(undefined, endpoint);
    tls.setNoDelay(true);
    return tls;
  }
  const raw = await tcpConnected(endpoint.host, endpoint.port);
  raw.setNoDelay(true);
  const header = proxyV2Header(
    { address: raw.localAddress ?? '127.0.0.1', port: raw.localPort ?? 0 },
    { address: raw.remoteAddress ?? endpoint.host, port: raw.remotePort ?? endpoint.port },
  );
  // The header must be on the wire before the ClientHello: write it, wait for the flush, then start TLS.
  await new Promise<void>((written, reject) => raw.write(header, (error) => (error ? reject(error) : written())));
  const tls = tlsOver(raw, endpoint);
  // Errors of the TCP socket surface on the TLS socket; this listener only keeps a late one from being uncaught.
  raw.on('error', () => raw.destroy());
  return tls;
}

/** node:https Agent whose connections start with a PROXY v2 header (the Agent still pools and keeps alive). */
class ProxyV2Agent extends HttpsAgent {
  private readonly endpoint: Endpoint;

  constructor(endpoint: Endpoint, maxSockets: number) {
    super({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, ca: endpoint.ca });
    this.endpoint = endpoint;
  }

  override createConnection(_options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    openConnection(this.endpoint).then(
      (socket) => callback?.(null, socket),
      (error: unknown) => callback?.(error instanceof Error ? error : new Error(String(error)), undefined as never),
    );
    return undefined;
  }
}

/** A keep-alive Agent for node:http (http) or node:https (the TLS transports) requests to `endpoint`. */
export function agentFor(endpoint: Endpoint, maxSockets = 16): HttpAgent {
  if (endpoint.transport === 'http') return new HttpAgent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  if (endpoint.transport === 'https') return new HttpsAgent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, ca: endpoint.ca });
  return new ProxyV2Agent(endpoint, maxSockets);
}
