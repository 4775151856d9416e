// TLS termination (SNI between two openssl-made certificates, https redirect before basic auth, HSTS,
// X-Forwarded-Proto) and the PROXY protocol in both directions, checked through a real HAProxy.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request as httpsRequest } from 'node:https';
import {
  buildProxyHeader,
  startHttpBackend,
  startProxyBackend,
  type HttpBackend,
  type ProxyBackend,
  type ProxyReport,
} from '../../helpers/backends.js';
import { get, makeCertificate, servedCertificateCn, startTestLb, tempDir, type HttpResult, type TestLb } from '../../helpers/haproxy.js';
import { freePort } from '../../helpers/processes.js';

function indent(pem: string, spaces: number): string {
  return pem.trim().split('\n').map((l) => `${' '.repeat(spaces)}${l}`).join('\n');
}

function httpsGet(port: number, servername: string, path: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, servername, headers: { host: servername, connection: 'close', ...headers }, rejectUnauthorized: false, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('TLS termination and PROXY protocol to backends', () => {
  let app: HttpBackend;
  let pp1: ProxyBackend;
  let pp2: ProxyBackend;
  let lb: TestLb;
  let http: number;
  let https: number;
  let tcpV2: number;
  const basic = { authorization: `Basic ${Buffer.from('alice:wonderland').toString('base64')}` };

  before(async () => {
    const certs = await tempDir();
    const first = await makeCertificate(certs.path, 'first.test');
    const second = await makeCertificate(certs.path, 'second.test');
    await certs.remove();
    app = await startHttpBackend('secure-app');
    pp1 = await startProxyBackend('pp1');
    pp2 = await startProxyBackend('pp2');
    http = await freePort();
    https = await freePort();
    tcpV2 = await freePort();
    lb = await startTestLb(`
load_balancer:
  bind_address: 127.0.0.1
  http_ports: [${http}]
  https_port: ${https}
  certificates:
    - name: first
      pem: |
${indent(first, 8)}
    - name: second
      pem: |
${indent(second, 8)}
services:
  secure:
    internal_port: 80
    virtual_hosts: [first.test, second.test]
    redirect_https: true
    hsts: true
    basic_auth: ["user alice insecure-password wonderland"]
    backends: ["127.0.0.1:${app.port}"]
  proxied:
    internal_port: 80
    virtual_hosts: [pp1.test]
    send_proxy: true
    backends: ["127.0.0.1:${pp1.port}"]
  proxiedtcp:
    mode: tcp
    internal_port: 80
    external_port: ${tcpV2}
    send_proxy_v2: true
    backends: ["127.0.0.1:${pp2.port}"]
`);
  });

  after(async () => {
    await lb?.stop();
    await app?.close();
    await pp1?.close();
    await pp2?.close();
  });

  it('chooses the certificate by SNI; the first one is the default', async () => {
    assert.equal(await servedCertificateCn(https, 'first.test'), 'first.test');
    assert.equal(await servedCertificateCn(https, 'second.test'), 'second.test');
    assert.equal(await servedCertificateCn(https, 'unknown.test'), 'first.test');
  });

  it('redirects plain http to https before asking for credentials', async () => {
    const res = await get(http, { host: 'second.test', path: '/a?b=1' });
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, `https://second.test:${https}/a?b=1`);
  });

  it('asks for credentials over https, then serves with HSTS and X-Forwarded-Proto https', async () => {
    const denied = await httpsGet(https, 'first.test', '/');
    assert.equal(denied.status, 401);
    const ok = await httpsGet(https, 'first.test', '/x', basic);
    assert.equal(ok.status, 200);
    assert.match(String(ok.headers['strict-transport-security']), /^max-age=\d+/);
    const report = JSON.parse(ok.body) as { headers: Record<string, string> };
    assert.equal(report.headers['x-forwarded-proto'], 'https');
    assert.equal(report.headers['x-forwarded-port'], String(https));
    assert.equal(report.headers['x-forwarded-for'], '127.0.0.1');
    // No HSTS over plain http (a redirect is all that plain http gets).
    assert.equal((await get(http, { host: 'first.test' })).headers['strict-transport-security'], undefined);
  });

  it('sends a PROXY v1 header with the real client address to an http backend', async () => {
    const res = await get(http, { host: 'pp1.test', path: '/hello', localAddress: '127.0.0.7' });
    assert.equal(res.status, 200);
    const report = JSON.parse(res.body) as ProxyReport;
    assert.equal(report.proxy?.version, 1);
    assert.equal(report.proxy?.sourceAddress, '127.0.0.7');
    assert.equal(report.firstLine, 'GET /hello HTTP/1.1');
  });

  it('sends a PROXY v2 header with the real client address to a tcp backend', async () => {
    const line = await new Promise<string>((resolve, reject) => {
      const socket = connect({ port: tcpV2, host: '127.0.0.1', localAddress: '127.0.0.8' });
      let data = '';
      socket.on('connect', () => socket.write('hello\n'));
      socket.on('data', (c: Buffer) => (data += c.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    const report = JSON.parse(line) as ProxyReport;
    assert.equal(report.proxy?.version, 2);
    assert.equal(report.proxy?.sourceAddress, '127.0.0.8');
    assert.equal(report.firstLine, 'hello');
  });
});

describe('accept_proxy: a PROXY header from an upstream balancer', () => {
  let app: HttpBackend;
  let lb: TestLb;
  let http: number;

  before(async () => {
    app = await startHttpBackend('behind-proxy');
    http = await freePort();
    lb = await startTestLb(`
load_balancer:
  bind_address: 127.0.0.1
  http_ports: [${http}]
  accept_proxy: true
services:
  app:
    internal_port: 80
    backends: ["127.0.0.1:${app.port}"]
`);
  });

  after(async () => {
    await lb?.stop();
    await app?.close();
  });

  function rawRequest(header: Buffer | null): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(http, '127.0.0.1');
      let data = '';
      socket.on('connect', () => {
        if (header) socket.write(header);
        socket.write('GET /through HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
      });
      socket.on('data', (c: Buffer) => (data += c.toString()));
      socket.on('end', () => resolve(data));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
  }

  for (const version of [1, 2] as const) {
    it(`takes the client address from a PROXY v${version} header`, async () => {
      const response = await rawRequest(buildProxyHeader(version, '203.0.113.9', 40000, '127.0.0.1', http));
      assert.match(response, /^HTTP\/1\.1 200/);
      const report = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { headers: Record<string, string> };
      assert.equal(report.headers['x-forwarded-for'], '203.0.113.9');
    });
  }

  it('refuses a connection without a PROXY header', async () => {
    // HAProxy closes (or resets) the connection: either way no response reaches the client.
    const response = await rawRequest(null).catch((err: Error) => `error: ${err.message}`);
    assert.doesNotMatch(response, /^HTTP\/1\.1 200/);
    assert.equal(app.requests.filter((r) => r.path === '/through').length, 2);
  });
});
