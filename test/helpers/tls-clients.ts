// Clients for the TLS edge: a PROXY v2 header, HTTP/2 sessions (direct or after a PROXY header) on node's
// http2 client, and the serial of the certificate a new connection is shown.
import { connect as http2Connect, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

/** A PROXY v2 header (PROXY command, TCP over IPv4) announcing `source`:`sourcePort`. */
export function proxyV2Header(source: string, sourcePort: number, destinationPort = 8443): Buffer {
  const signature = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
  const block = Buffer.alloc(12);
  source.split('.').forEach((part, i) => block.writeUInt8(Number(part), i));
  [127, 0, 0, 1].forEach((part, i) => block.writeUInt8(part, 4 + i));
  block.writeUInt16BE(sourcePort, 8);
  block.writeUInt16BE(destinationPort, 10);
  return Buffer.concat([signature, Buffer.from([0x21, 0x11, 0x00, 12]), block]);
}

export interface TlsTarget {
  port: number;
  /** PEM of the CA to trust (nothing else is). */
  ca: string;
  /** Sent on the TCP connection before TLS starts (the PROXY port). */
  proxyHeader?: Buffer;
  /** Local address to connect from (127.0.0.2, ...). */
  localAddress?: string;
  alpn?: string[];
}

/** A TLS connection to 127.0.0.1:port for the name localhost, after the PROXY header when one is given. */
export function tlsSocketTo(target: TlsTarget): TLSSocket {
  const raw = new Socket();
  raw.connect({ port: target.port, host: '127.0.0.1', ...(target.localAddress ? { localAddress: target.localAddress } : {}) });
  // Written once connected, before the first TLS byte.
  if (target.proxyHeader) raw.write(target.proxyHeader);
  return tlsConnect({ socket: raw, servername: 'localhost', ca: target.ca, ALPNProtocols: target.alpn ?? ['h2'] });
}

export interface Http2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Http2Client {
  session: ClientHttp2Session;
  /** One request; the body (if any) is sent whole. */
  request(method: string, path: string, headers?: OutgoingHttpHeaders, body?: Buffer): Promise<Http2Answer>;
  /** The ALPN protocol and the certificate serial (upper-case hex) of this connection. */
  negotiated(): Promise<{ alpn: string | false | null; serial: string }>;
  close(): Promise<void>;
}

/** An HTTP/2 session to the HTTPS port (or, with `proxyHeader`, to the PROXY port). */
export function connectHttp2(target: TlsTarget): Http2Client {
  let socket: TLSSocket | undefined;
  const session = http2Connect(`https://localhost:${target.port}`, {
    createConnection: () => {
      socket = tlsSocketTo(target);
      return socket;
    },
  });
  const failure = new Promise<never>((_resolve, reject) => session.once('error', reject));
  failure.catch(() => undefined);
  const connected = Promise.race([new Promise<void>((resolve) => session.once('connect', () => resolve())), failure]);
  return {
    session,
    async request(method, path, headers = {}, body) {
      await connected;
      // Without a body the HEADERS frame ends the stream, as real clients send it.
      const stream = session.request({ ':method': method, ':path': path, ...headers }, { endStream: body === undefined });
      const answer = new Promise<Http2Answer>((resolve, reject) => {
        let responseHeaders: IncomingHttpHeaders = {};
        const chunks: Buffer[] = [];
        stream.on('response', (h) => {
          responseHeaders = h;
        });
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body: Buffer.concat(chunks) }));
        stream.on('error', reject);
      });
      if (body !== undefined) stream.end(body);
      return Promise.race([answer, failure]);
    },
    async negotiated() {
      await connected;
      return { alpn: socket!.alpnProtocol, serial: socket!.getPeerCertificate().serialNumber.toUpperCase() };
    },
    close() {
      return new Promise((resolve) => session.close(() => resolve()));
    },
  };
}

/** The serial (upper-case hex) of the certificate a new TLS connection is shown. */
export async function servedSerial(target: TlsTarget): Promise<string> {
  const socket = tlsSocketTo({ alpn: ['http/1.1'], ...target });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
  });
  const serial = socket.getPeerCertificate().serialNumber.toUpperCase();
  socket.destroy();
  return serial;
}
