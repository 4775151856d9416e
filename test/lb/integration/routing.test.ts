// Routing and HTTP features checked THROUGH a real HAProxy driven by the controller: host and wildcard
// routes (Host with and without a port), path strip and keep, route priority, tcp mode, the three balance
// algorithms, cookie stickiness, basic auth, forwarded headers, the health URI and the stats page.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Agent } from 'node:http';
import { startHttpBackend, startTcpBackend, type HttpBackend, type TcpBackend } from '../../helpers/backends.js';
import { backendOf, get, sha512Crypt, startTestLb, waitFor, type TestLb } from '../../helpers/haproxy.js';
import { freePort } from '../../helpers/processes.js';

interface Ports {
  http: number;
  tcp: number;
  stats: number;
}

function yaml(p: Ports, b: Record<string, HttpBackend>, tcp: TcpBackend, hash: string): string {
  const be = (...names: string[]) => `[${names.map((n) => `"127.0.0.1:${b[n]?.port}"`).join(', ')}]`;
  return `
load_balancer:
  bind_address: 127.0.0.1
  http_ports: [${p.http}]
  health_uri: /lb-health
  stats: { port: ${p.stats}, password: s3cret, bind_address: 127.0.0.1 }
services:
  web:
    internal_port: 80
    virtual_hosts: [www.example.test]
    backends: ${be('web')}
  webspecial:
    internal_port: 80
    virtual_hosts: [www.example.test]
    virtual_paths: [/special]
    backends: ${be('special')}
  wild:
    internal_port: 80
    virtual_hosts: ["*.wild.test"]
    backends: ${be('wild')}
  api:
    internal_port: 80
    virtual_paths: [/api]
    backends: ${be('api')}
  keep:
    internal_port: 80
    virtual_paths: [/keep]
    keep_virtual_path: true
    backends: ${be('keep')}
  fallback:
    internal_port: 80
    backends: ${be('fallback')}
  rr:
    internal_port: 80
    virtual_hosts: [rr.test]
    backends: ${be('r1', 'r2')}
  src:
    internal_port: 80
    balance: source
    virtual_hosts: [src.test]
    backends: ${be('s1', 's2')}
  lc:
    internal_port: 80
    balance: leastconn
    virtual_hosts: [lc.test]
    backends: ${be('l1', 'l2')}
  sticky:
    internal_port: 80
    cookie: true
    virtual_hosts: [sticky.test]
    backends: ${be('c1', 'c2')}
  auth:
    internal_port: 80
    virtual_hosts: [auth.test]
    basic_auth:
      - user alice insecure-password wonderland
      - user bob password ${hash}
    backends: ${be('auth')}
  db:
    mode: tcp
    internal_port: 5432
    external_port: ${p.tcp}
    backends: ["127.0.0.1:${tcp.port}"]
`;
}

describe('routing and HTTP features through HAProxy', () => {
  const backends: Record<string, HttpBackend> = {};
  let tcp: TcpBackend;
  let lb: TestLb;
  let ports: Ports;

  before(async () => {
    for (const name of ['web', 'special', 'wild', 'api', 'keep', 'fallback', 'r1', 'r2', 's1', 's2', 'l1', 'l2', 'c1', 'c2', 'auth']) {
      backends[name] = await startHttpBackend(name);
    }
    tcp = await startTcpBackend('tcp-db');
    ports = { http: await freePort(), tcp: await freePort(), stats: await freePort() };
    lb = await startTestLb(yaml(ports, backends, tcp, await sha512Crypt('secret')));
  });

  after(async () => {
    await lb?.stop();
    await Promise.all(Object.values(backends).map((b) => b.close()));
    await tcp?.close();
  });

  const at = (host: string | undefined, path = '/') => get(ports.http, { host, path });

  it('routes by host, with and without a port in the Host header', async () => {
    assert.equal(backendOf(await at('www.example.test')), 'web');
    assert.equal(backendOf(await at(`www.example.test:${ports.http}`)), 'web');
    assert.equal(backendOf(await at('WWW.Example.TEST')), 'web');
  });

  it('routes wildcard hosts to sub-domains only', async () => {
    assert.equal(backendOf(await at('a.wild.test')), 'wild');
    assert.equal(backendOf(await at('deep.b.wild.test:8080')), 'wild');
    assert.equal(backendOf(await at('wild.test')), 'fallback');
  });

  it('strips the virtual path by default and keeps it when asked', async () => {
    const stripped = JSON.parse((await at('other.test', '/api/users?x=1')).body) as { backend: string; path: string };
    assert.deepEqual([stripped.backend, stripped.path], ['api', '/users?x=1']);
    const root = JSON.parse((await at('other.test', '/api')).body) as { backend: string; path: string };
    assert.deepEqual([root.backend, root.path], ['api', '/']);
    const kept = JSON.parse((await at('other.test', '/keep/a/b')).body) as { backend: string; path: string };
    assert.deepEqual([kept.backend, kept.path], ['keep', '/keep/a/b']);
    // A prefix match is on path segments: /apix is not /api.
    assert.equal(backendOf(await at('other.test', '/apix')), 'fallback');
  });

  it('gives host+path priority over host, and host over path', async () => {
    assert.equal(backendOf(await at('www.example.test', '/special/x')), 'special');
    assert.equal(backendOf(await at('www.example.test', '/api/x')), 'web');
    assert.equal(backendOf(await at('unknown.test', '/api/x')), 'api');
    assert.equal(backendOf(await at('unknown.test', '/')), 'fallback');
  });

  it('forwards tcp connections in tcp mode', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(ports.tcp, '127.0.0.1');
      let data = '';
      socket.on('data', (chunk: Buffer) => {
        data += chunk.toString();
        if (data.includes('ping')) socket.end();
      });
      socket.on('connect', () => socket.write('ping\n'));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    assert.equal(answer, 'tcp-db\nping\n');
  });

  it('roundrobin alternates between backends', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(backendOf(await at('rr.test')));
    for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1], seen.join(','));
  });

  it('source sticks one client address to one backend', async () => {
    for (const localAddress of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
      const seen = new Set<string>();
      for (let i = 0; i < 5; i++) seen.add(backendOf(await get(ports.http, { host: 'src.test', localAddress })));
      assert.equal(seen.size, 1, `${localAddress} saw ${[...seen].join(',')}`);
    }
    // Several client addresses spread over both backends (one of 8 picks both at least once).
    const all = new Set<string>();
    for (let i = 2; i < 10; i++) all.add(backendOf(await get(ports.http, { host: 'src.test', localAddress: `127.0.0.${i}` })));
    assert.equal(all.size, 2);
  });

  it('leastconn sends new requests to the idle backend while the other holds a long request', async () => {
    // The long request stays open until the test releases it, however slow the machine is.
    const long = get(ports.http, { host: 'lc.test', path: '/?hold=1', timeoutMs: 60_000 });
    const holds = (name: 'l1' | 'l2') => backends[name]?.requests.some((r) => r.path.includes('hold')) === true;
    const busy = await waitFor('the long request to reach a backend', async () => (holds('l1') ? 'l1' : holds('l2') ? 'l2' : undefined), 60_000, 10);
    const idle = busy === 'l1' ? 'l2' : 'l1';
    for (let i = 0; i < 4; i++) assert.equal(backendOf(await at('lc.test')), idle);
    backends[busy]?.releaseHeld();
    assert.equal(backendOf(await long), busy);
  });

  it('cookie stickiness keeps a client on its backend', async () => {
    const first = await at('sticky.test');
    const setCookie = String(first.headers['set-cookie'] ?? '');
    const cookie = /SERVERID=[^;]+/.exec(setCookie)?.[0];
    assert.ok(cookie, `no SERVERID cookie in ${setCookie}`);
    const owner = backendOf(first);
    for (let i = 0; i < 5; i++) {
      assert.equal(backendOf(await get(ports.http, { host: 'sticky.test', headers: { cookie } })), owner);
    }
    const other = owner === 'c1' ? 'c2' : 'c1';
    const cookieOther = cookie.replace(/=.*/, `=127.0.0.1_${backends[other]?.port}`);
    assert.equal(backendOf(await get(ports.http, { host: 'sticky.test', headers: { cookie: cookieOther } })), other);
  });

  it('basic auth: 401 without credentials, 200 with an insecure password and with a $6$ hash', async () => {
    const none = await at('auth.test');
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /Basic realm="auth"/);
    const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
    assert.equal((await get(ports.http, { host: 'auth.test', headers: basic('alice', 'wonderland') })).status, 200);
    assert.equal((await get(ports.http, { host: 'auth.test', headers: basic('bob', 'secret') })).status, 200);
    assert.equal((await get(ports.http, { host: 'auth.test', headers: basic('bob', 'wrong') })).status, 401);
    assert.equal((await get(ports.http, { host: 'auth.test', headers: basic('alice', 'secret') })).status, 401);
  });

  it('passes X-Forwarded-For, -Proto and -Port to the backend', async () => {
    const report = JSON.parse((await get(ports.http, { host: 'www.example.test', localAddress: '127.0.0.5' })).body) as {
      headers: Record<string, string>;
    };
    assert.equal(report.headers['x-forwarded-for'], '127.0.0.5');
    assert.equal(report.headers['x-forwarded-proto'], 'http');
    assert.equal(report.headers['x-forwarded-port'], String(ports.http));
  });

  it('answers the health URI itself', async () => {
    const res = await at('anything.test', '/lb-health');
    assert.equal(res.status, 200);
    assert.equal(backends.fallback?.requests.some((r) => r.path === '/lb-health'), false);
  });

  it('protects the stats page with its password', async () => {
    assert.equal((await get(ports.stats, { path: '/' })).status, 401);
    const auth = { authorization: `Basic ${Buffer.from('stats:s3cret').toString('base64')}` };
    const ok = await get(ports.stats, { path: '/', headers: auth });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /be_web/);
    assert.equal((await get(ports.stats, { path: '/', headers: { authorization: `Basic ${Buffer.from('stats:nope').toString('base64')}` } })).status, 401);
  });

  it('keeps keep-alive connections working across requests', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 5; i++) assert.equal(backendOf(await get(ports.http, { host: 'www.example.test', agent })), 'web');
    } finally {
      agent.destroy();
    }
  });
});
