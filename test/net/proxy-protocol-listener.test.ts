import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect as http2Connect, createSecureServer, type Http2SecureServer } from 'node:http2';
import { Socket as NetSocket, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Registry } from 'prom-client';
import { clientAddress } from '../../src/net/client-address.js';
import { terminateTls, toHttpServer, toSecureServer } from '../../src/net/proxy-protocol-handoff.js';
import { createProxyProtocolServer, type ProxyHandoff } from '../../src/net/proxy-protocol-listener.js';
import { ProxyProtocolMetrics } from '../../src/net/proxy-protocol-metrics.js';
import { ReloadingTlsContext } from '../../src/net/tls-context.js';
import type { ProxyHeader } from '../../src/proxyproto/parse.js';
import { text, v2 } from '../proxyproto/build-header.js';
import { captureLogs, connectTcp, httpOverSocket, makePki, readUntilClosed, tempDir, tlsOverProxy, waitFor, type TestPki } from './fixtures.js';

const REQUEST = 'GET /who HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';

/** An HTTP app answering with the address the request is attributed to. */
function whoAmIServer(): HttpServer & { requests: number } {
  const server = createHttpServer((req, res) => {
    server.requests++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ client: clientAddress(req.socket), encrypted: 'encrypted' in req.socket, url: req.url }));
  }) as HttpServer & { requests: number };
  server.requests = 0;
  return server;
}

interface Harness {
  port: number;
  server: Server;
  metrics: ProxyProtocolMetrics;
  logs: ReturnType<typeof captureLogs>;
  headers: ProxyHeader[];
  close(): Promise<void>;
}

async function startListener(handoff: ProxyHandoff, headerTimeoutMs = 5000, metrics = new ProxyProtocolMetrics(new Registry())): Promise<Harness> {
  const logs = captureLogs();
  const headers: ProxyHeader[] = [];
  const server = createProxyProtocolServer({
    handoff: (socket, header) => {
      headers.push(header);
      handoff(socket, header);
    },
    logger: logs.logger,
    headerTimeoutMs,
    metrics,
  });
  const accepted = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    accepted.add(socket);
    socket.once('close', () => accepted.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    server,
    metrics,
    logs,
    headers,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets handed to the apps would hold close() for their idle timeout.
        for (const socket of accepted) socket.destroy();
      }),
  };
}

async function counter(metrics: ProxyProtocolMetrics, name: 'rejected' | 'tlsHandshakeFailures', reason: string): Promise<number> {
  const values = (await metrics[name].get()).values;
  return values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

async function headerCount(metrics: ProxyProtocolMetrics, version: string, command: string): Promise<number> {
  const values = (await metrics.headers.get()).values;
  return values.find((v) => v.labels.version === version && v.labels.command === command)?.value ?? 0;
}

function openConnections(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((error, n) => (error ? reject(error) : resolve(n))));
}

function bodyOf(response: Buffer): { client: string; encrypted: boolean } {
  const text = response.toString('utf8');
  assert.match(text, /^HTTP\/1\.1 200 /);
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { client: string; encrypted: boolean };
}

async function plainRequest(port: number, preamble: Buffer | string, request = REQUEST): Promise<Buffer> {
  const socket = await connectTcp(port);
  const closed = readUntilClosed(socket);
  socket.write(Buffer.concat([Buffer.from(preamble), Buffer.from(request)]));
  return (await closed).data;
}

describe('PROXY protocol listener, plain HTTP after the header', () => {
  let app: ReturnType<typeof whoAmIServer>;
  let h: Harness;
  before(async () => {
    app = whoAmIServer();
    h = await startListener(toHttpServer(app));
  });
  after(async () => {
    await h.close();
    app.close();
  });

  it('v1 TCP4: the request is attributed to the header source, bytes after the header in the same segment are kept', async () => {
    const body = bodyOf(await plainRequest(h.port, 'PROXY TCP4 203.0.113.9 10.0.0.1 40001 8443\r\n'));
    assert.deepEqual(body, { client: '203.0.113.9', encrypted: false, url: '/who' } as unknown as typeof body);
  });

  it('v1 TCP6 source is recorded in canonical form', async () => {
    const body = bodyOf(await plainRequest(h.port, 'PROXY TCP6 2001:DB8:0:0:0:0:0:42 2001:db8::1 40002 8443\r\n'));
    assert.equal(body.client, '2001:db8::42');
  });

  it('v2 over IPv4 and IPv6 with TLVs; the handoff receives the parsed header', async () => {
    const four = bodyOf(await plainRequest(h.port, v2({ source: '198.51.100.77', sourcePort: 5555, tlvs: [text(0x02, 'quay.example.com')], crc: 'right' })));
    assert.equal(four.client, '198.51.100.77');
    const last = h.headers[h.headers.length - 1]!;
    assert.equal(last.tlvs.authority, 'quay.example.com');
    assert.equal(last.addresses?.family === 'inet' && last.addresses.source.port, 5555);
    const six = bodyOf(await plainRequest(h.port, v2({ source: '2001:db8::77', destination: '2001:db8::1' })));
    assert.equal(six.client, '2001:db8::77');
  });

  it('the header and the request in separate segments', async () => {
    const socket = await connectTcp(h.port);
    const closed = readUntilClosed(socket);
    const before = await headerCount(h.metrics, '1', 'proxy');
    socket.write('PROXY TCP4 192.0.2.200 10.0.0.1 1 2\r\n');
    await waitFor('the header to be read', async () => (await headerCount(h.metrics, '1', 'proxy')) > before);
    socket.write(REQUEST);
    assert.equal(bodyOf((await closed).data).client, '192.0.2.200');
  });

  it('v1 UNKNOWN and v2 LOCAL (health checks) keep the socket address', async () => {
    assert.equal(bodyOf(await plainRequest(h.port, 'PROXY UNKNOWN\r\n')).client, '127.0.0.1');
    assert.equal(bodyOf(await plainRequest(h.port, v2({ versionCommand: 0x20, family: 0x00, addressBlock: Buffer.alloc(0) }))).client, '127.0.0.1');
    assert.ok((await headerCount(h.metrics, '2', 'local')) >= 1);
  });

  it('garbage is closed with one log line and a counter, and never reaches the app', async () => {
    const requestsBefore = app.requests;
    const warningsBefore = h.logs.at('warn').length;
    const response = await plainRequest(h.port, '', REQUEST);
    assert.equal(response.length, 0, 'nothing is answered to a connection without a PROXY header');
    assert.equal(await counter(h.metrics, 'rejected', 'malformed'), 1);
    const warnings = h.logs.at('warn').slice(warningsBefore);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!.msg, /PROXY protocol connection closed: not a PROXY protocol header/);
    assert.equal(warnings[0]!.reason, 'malformed');
    assert.equal(app.requests, requestsBefore);
  });

  it('an absurd v2 length is refused before its bytes arrive', async () => {
    const socket = await connectTcp(h.port);
    const closed = readUntilClosed(socket);
    socket.write(Buffer.concat([v2().subarray(0, 14), Buffer.from([0xff, 0xf0])]));
    await closed;
    assert.ok(h.logs.at('warn').some((l) => /announces 65520 bytes/.test(l.msg)));
  });

  it('a peer that leaves mid-header or resets is counted as closed, quietly', async () => {
    const before = await counter(h.metrics, 'rejected', 'closed');
    const leaving = await connectTcp(h.port);
    leaving.end('PROXY TC');
    await readUntilClosed(leaving);
    const resetting = await connectTcp(h.port);
    resetting.write('PROXY TCP4 1.2');
    await waitFor('the server to hold the connection', () => openConnections(h.server).then((n) => n >= 1));
    resetting.resetAndDestroy();
    await waitFor('both closes to be counted', async () => (await counter(h.metrics, 'rejected', 'closed')) === before + 2);
    assert.ok(h.logs.at('debug').some((l) => /closed by the peer after 8 bytes/.test(l.msg)));
  });
});

describe('PROXY protocol listener, slow and half-open connections', () => {
  it('a header trickling in is closed after the timeout, the deadline does not move with each byte', async () => {
    const app = whoAmIServer();
    const h = await startListener(toHttpServer(app), 200);
    try {
      const slow = await connectTcp(h.port);
      const closed = readUntilClosed(slow);
      const line = 'PROXY UNKNOWN ' + 'x'.repeat(60);
      let sent = 0;
      const trickle = setInterval(() => {
        if (sent < line.length && !slow.destroyed) slow.write(line[sent++]!);
      }, 10);
      await closed;
      clearInterval(trickle);
      assert.equal(await counter(h.metrics, 'rejected', 'timeout'), 1);
      const warning = h.logs.at('warn').find((l) => l.reason === 'timeout');
      assert.ok(warning, 'one warning for the timeout');
      assert.match(warning.msg, /no complete header within 200 ms/);
      assert.equal(app.requests, 0);
    } finally {
      await h.close();
      app.close();
    }
  });

  it('many half-open connections do not stop other clients from being served', async () => {
    const app = whoAmIServer();
    const h = await startListener(toHttpServer(app), 20_000);
    const idle: Socket[] = [];
    try {
      for (let i = 0; i < 200; i++) {
        const socket = await connectTcp(h.port);
        socket.on('error', () => {});
        socket.write(i % 2 === 0 ? 'PROXY TCP4 ' : v2().subarray(0, 20));
        idle.push(socket);
      }
      await waitFor('200 pending connections', async () => (await openConnections(h.server)) >= 200);
      const served = await Promise.all(Array.from({ length: 20 }, (_, i) => plainRequest(h.port, `PROXY TCP4 192.0.2.${i + 1} 10.0.0.1 1000 8443\r\n`)));
      assert.deepEqual(served.map((r) => bodyOf(r).client), Array.from({ length: 20 }, (_, i) => `192.0.2.${i + 1}`));
      assert.equal(await counter(h.metrics, 'rejected', 'timeout'), 0, 'the idle connections were still pending while the others were served');
    } finally {
      for (const socket of idle) socket.destroy();
      await h.close();
      app.close();
    }
  });
});

describe('PROXY protocol listener, TLS after the header', () => {
  let pki: TestPki;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let tls: ReloadingTlsContext;
  let app: ReturnType<typeof whoAmIServer>;
  let h2app: Http2SecureServer;
  let http1: Harness;
  let http2: Harness;
  let serial: string;
  let tlsNext: (socket: TLSSocket) => void;
  let tlsNextCalls = 0;

  before(async () => {
    dir = await tempDir();
    pki = await makePki(dir.path);
    const issued = await pki.issue('server', '5a01');
    serial = issued.serialHex.toUpperCase();
    await writeFile(join(dir.path, 'ssl.cert'), issued.chain);
    await writeFile(join(dir.path, 'ssl.key'), issued.key);
    const logs = captureLogs();
    tls = await ReloadingTlsContext.open({ files: { certFile: join(dir.path, 'ssl.cert'), keyFile: join(dir.path, 'ssl.key') }, logger: logs.logger, watch: false });
    app = whoAmIServer();
    const toApp = toHttpServer(app);
    tlsNext = (socket) => {
      tlsNextCalls++;
      toApp(socket);
    };
    const http1Metrics = new ProxyProtocolMetrics(new Registry());
    http1 = await startListener(terminateTls({ tls, next: tlsNext, logger: logs.logger, handshakeTimeoutMs: 5000, metrics: http1Metrics }), 5000, http1Metrics);
    h2app = createSecureServer({ allowHTTP1: true }, (req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ client: clientAddress(req.socket), alpn: req.httpVersion }));
    });
    http2 = await startListener(terminateTls({ tls, next: toSecureServer(h2app), logger: logs.logger }));
  });
  after(async () => {
    tls?.close();
    await http1?.close();
    await http2?.close();
    app?.close();
    h2app?.close();
    await dir?.remove();
  });

  it('v1 then TLS (server certificate verified by the root CA through the intermediate), then HTTP/1.1', async () => {
    const socket = await tlsOverProxy(http1.port, Buffer.from('PROXY TCP4 203.0.113.50 10.0.0.1 33333 8443\r\n'), { ca: pki.caCert });
    assert.equal(socket.authorized, true);
    assert.equal(socket.getPeerCertificate().serialNumber, serial);
    const response = await httpOverSocket(socket, '/who');
    assert.deepEqual(JSON.parse(response.body), { client: '203.0.113.50', encrypted: true, url: '/who' });
    socket.destroy();
  });

  it('v2 then TLS with ALPN h2: an HTTP/2 server sees the header source', async () => {
    const header = v2({ source: '2001:db8::beef', destination: '2001:db8::1', crc: 'right' });
    const session = http2Connect(`https://localhost:${http2.port}`, {
      ca: pki.caCert,
      createConnection: () => {
        // http2.connect wants the TLS socket synchronously: open TCP, queue the header, start TLS on top.
        const raw = new NetSocket();
        raw.connect(http2.port, '127.0.0.1');
        raw.write(header);
        return tlsConnect({ socket: raw, servername: 'localhost', ca: pki.caCert, ALPNProtocols: ['h2'] });
      },
    });
    try {
      const stream = session.request({ ':path': '/who' });
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      await once(stream, 'end');
      assert.deepEqual(JSON.parse(Buffer.concat(chunks).toString()), { client: '2001:db8::beef', alpn: '2.0' });
    } finally {
      session.close();
    }
  });

  it('v2 then TLS with http/1.1 to the same HTTP/2 server (allowHTTP1)', async () => {
    const socket = await tlsOverProxy(http2.port, v2({ source: '192.0.2.99' }), { ca: pki.caCert, alpn: ['http/1.1'] });
    assert.equal(socket.alpnProtocol, 'http/1.1');
    assert.deepEqual(JSON.parse((await httpOverSocket(socket, '/who')).body), { client: '192.0.2.99', alpn: '1.1' });
    socket.destroy();
  });

  it('after a bad header no TLS handshake ever happens', async () => {
    const callsBefore = tlsNextCalls;
    const raw = await connectTcp(http1.port);
    const closed = readUntilClosed(raw);
    raw.write('PROXY TCP4 999.1.1.1 10.0.0.1 1 2\r\n');
    let secured = false;
    const client = tlsConnect({ socket: raw, servername: 'localhost', ca: pki.caCert }, () => {
      secured = true;
    });
    const clientError = await new Promise<Error>((resolve) => client.once('error', resolve));
    const { data } = await closed;
    assert.equal(secured, false);
    assert.match(clientError.message, /socket disconnected|ECONNRESET|socket hang up/);
    assert.equal(data.length, 0, 'the server sent no TLS bytes');
    assert.equal(await counter(http1.metrics, 'rejected', 'malformed'), 1);
    assert.equal(await counter(http1.metrics, 'tlsHandshakeFailures', 'error'), 0);
    assert.equal(tlsNextCalls, callsBefore);
  });

  it('a plain-text client after a good header fails the handshake, counted, nothing crashes', async () => {
    const response = await plainRequest(http1.port, 'PROXY TCP4 192.0.2.1 10.0.0.1 1 2\r\n');
    assert.equal(response.toString('latin1').startsWith('HTTP/'), false);
    await waitFor('the handshake failure to be counted', async () => (await counter(http1.metrics, 'tlsHandshakeFailures', 'error')) === 1);
  });
});

