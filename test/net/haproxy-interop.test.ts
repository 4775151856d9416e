// A real HAProxy in front of the PROXY listener: send-proxy (v1) and send-proxy-v2 with TLVs and CRC32C,
// HAProxy terminating TLS as in the Kubernetes reference setup, and its LOCAL health checks.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { Registry } from 'prom-client';
import { clientAddress } from '../../src/net/client-address.js';
import { toHttpServer } from '../../src/net/proxy-protocol-handoff.js';
import { createProxyProtocolServer } from '../../src/net/proxy-protocol-listener.js';
import { ProxyProtocolMetrics } from '../../src/net/proxy-protocol-metrics.js';
import type { ProxyHeader } from '../../src/proxyproto/parse.js';
import { freePort, requireCommand, startProcess, type ManagedProcess } from '../helpers/processes.js';
import { captureLogs, connectTcp, httpOverSocket, makePki, tempDir, waitFor } from './fixtures.js';

describe('HAProxy in front of the PROXY listener', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let haproxy: ManagedProcess;
  let listener: ReturnType<typeof createProxyProtocolServer>;
  let app: ReturnType<typeof createHttpServer>;
  let caCert: string;
  const metrics = new ProxyProtocolMetrics(new Registry());
  const headers: ProxyHeader[] = [];
  let v1Port: number;
  let v2Port: number;

  before(async () => {
    requireCommand('haproxy', 'apt-get install haproxy');
    dir = await tempDir();
    const pki = await makePki(dir.path);
    caCert = pki.caCert;
    const issued = await pki.issue('edge', '3c03');
    await writeFile(join(dir.path, 'edge.pem'), issued.chain + issued.key);
    const { logger } = captureLogs();
    app = createHttpServer((req, res) => res.end(JSON.stringify({ client: clientAddress(req.socket) })));
    listener = createProxyProtocolServer({
      handoff: (socket, header) => {
        headers.push(header);
        toHttpServer(app)(socket);
      },
      logger,
      metrics,
    });
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const target = (listener.address() as AddressInfo).port;
    v1Port = await freePort();
    v2Port = await freePort();
    const config = [
      'global',
      '  log stderr format raw local0',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      `frontend v1`,
      `  bind 127.0.0.1:${v1Port}`,
      '  default_backend v1',
      'backend v1',
      `  server s 127.0.0.1:${target} send-proxy`,
      'frontend v2',
      `  bind 127.0.0.1:${v2Port} ssl crt ${join(dir.path, 'edge.pem')} alpn http/1.1`,
      '  unique-id-format %ci:%cp',
      '  default_backend v2',
      'backend v2',
      `  server s 127.0.0.1:${target} send-proxy-v2 proxy-v2-options ssl,cert-cn,ssl-cipher,authority,crc32c,unique-id check inter 200ms`,
      '',
    ].join('\n');
    await writeFile(join(dir.path, 'haproxy.cfg'), config);
    haproxy = await startProcess({ command: 'haproxy', args: ['-db', '-V', '-f', join(dir.path, 'haproxy.cfg')], ready: /./, readyTimeoutMs: 15_000 });
    await waitFor('HAProxy to listen', async () => connectTcp(v1Port).then((s) => (s.destroy(), true)).catch(() => false));
  });

  after(async () => {
    await haproxy?.stop();
    listener?.close();
    app?.close();
    await dir?.remove();
  });

  it('send-proxy (v1): the app sees the client address HAProxy saw', async () => {
    const socket = await connectTcp(v1Port);
    const response = await httpOverSocket(socket, '/');
    assert.deepEqual(JSON.parse(response.body), { client: '127.0.0.1' });
    // Found by our port, not as the last v1 header: the before hook's probe connections reach the listener
    // through HAProxy too, and one of them can arrive after ours (seen in CI).
    const v1 = headers.filter((h) => h.version === 1 && h.addresses?.family === 'inet');
    assert.ok(
      v1.some((h) => h.addresses?.family === 'inet' && h.addresses.source.address === '127.0.0.1' && h.addresses.source.port === socket.localPort),
      `no v1 header carried our address 127.0.0.1:${socket.localPort}: ${JSON.stringify(v1.map((h) => h.addresses))}`,
    );
  });

  it('send-proxy-v2 after TLS at HAProxy: addresses, SSL, authority, unique id and a verified CRC32C', async () => {
    const socket = await new Promise<import('node:tls').TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: v2Port, servername: 'localhost', ca: caCert, ALPNProtocols: ['http/1.1'] }, () => resolve(s));
      s.once('error', reject);
    });
    const localPort = socket.localPort;
    const response = await httpOverSocket(socket, '/');
    assert.deepEqual(JSON.parse(response.body), { client: '127.0.0.1' });
    const v2 = headers.find((h) => h.version === 2 && h.command === 'proxy' && h.addresses?.family === 'inet' && h.addresses.source.port === localPort);
    assert.ok(v2, `no v2 PROXY header carried our port ${localPort}`);
    assert.equal(v2.tlvs.authority, 'localhost');
    assert.equal(v2.tlvs.ssl?.clientSsl, true);
    assert.match(v2.tlvs.ssl?.version ?? '', /^TLSv1\.[23]$/);
    assert.ok(v2.tlvs.ssl?.cipher);
    assert.equal(typeof v2.tlvs.crc32c, 'number');
    assert.match(v2.tlvs.uniqueId?.toString() ?? '', new RegExp(`^127\\.0\\.0\\.1:${localPort}$`));
  });

  it('HAProxy health checks arrive as v2 LOCAL', async () => {
    await waitFor('a LOCAL header from a health check', async () => {
      const values = (await metrics.headers.get()).values;
      return values.some((v) => v.labels.version === '2' && v.labels.command === 'local' && v.value > 0);
    });
    assert.equal(((await metrics.rejected.get()).values.find((v) => v.labels.reason === 'malformed')?.value ?? 0), 0);
  });
});
