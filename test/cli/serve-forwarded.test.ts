// X-Forwarded-For/-Proto/-Host count only from TRUSTED_PROXY_NETWORKS: a real `quayside serve`, clients on
// distinct loopback addresses (127.0.0.2 is the trusted proxy, 127.0.0.1 is not), the request log and the
// login throttle as witnesses.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { quaysideCli, startProcess, type ManagedProcess } from '../helpers/processes.js';
import { connectTcp, httpOverSocket, readUntilClosed, tempDir } from '../net/fixtures.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/** One GET from `localAddress` with `headers`; the body is read and dropped. */
function getFrom(port: number, localAddress: string, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function loggedClient(line: string): string {
  return (JSON.parse(line) as { client?: string; clientAddress?: string }).client ?? (JSON.parse(line) as { clientAddress?: string }).clientAddress ?? '';
}

describe('forwarded headers from trusted proxies only', () => {
  let work: { path: string; remove(): Promise<void> };
  let server: ManagedProcess;
  let port: number;

  before(async () => {
    work = await tempDir('quayside-forwarded-');
    const conf = join(work.path, 'conf');
    await mkdir(conf, { recursive: true });
    await writeFile(join(conf, 'config.yaml'), 'TRUSTED_PROXY_NETWORKS: [127.0.0.2/32]\nLOGIN_FREE_ATTEMPTS: 1\nLOGIN_MAX_DELAY_S: 600\n');
    server = await startProcess({
      command: process.execPath,
      args: [quaysideCli(), 'serve', '--config-dir', conf, '--data-dir', join(work.path, 'data'), '--address', '127.0.0.1', '--port', '0'],
      ready: /listening on http:\/\/127\.0\.0\.1:(\d+)/,
    });
    port = Number(server.readyMatch[1]);
  });
  after(async () => {
    await server?.stop(60_000);
    await work?.remove();
  });

  it('logs the forwarded client from a trusted proxy, and the peer for anyone else', async () => {
    await getFrom(port, '127.0.0.2', '/v2/?fwd-trusted', { 'x-forwarded-for': '192.0.2.50, 203.0.113.5, 127.0.0.2' });
    await getFrom(port, '127.0.0.1', '/v2/?fwd-untrusted', { 'x-forwarded-for': '203.0.113.6' });
    const trusted = await server.waitForLine((line) => line.includes('fwd-trusted') && line.includes('"msg":"request"'));
    const untrusted = await server.waitForLine((line) => line.includes('fwd-untrusted') && line.includes('"msg":"request"'));
    // Each proxy appends the peer it saw: the nearest untrusted address is the client, what is left of it a claim.
    assert.equal(loggedClient(trusted), '203.0.113.5');
    assert.equal(loggedClient(untrusted), '127.0.0.1');
  });

  it('builds the token realm from X-Forwarded-Proto/-Host of a trusted proxy only', async () => {
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'registry.example.com' };
    const viaProxy = await getFrom(port, '127.0.0.2', '/v2/', forwarded);
    assert.match(String(viaProxy.headers['www-authenticate']), /realm="http:\/\/registry\.example\.com\/v2\/auth"/);
    const direct = await getFrom(port, '127.0.0.1', '/v2/', forwarded);
    assert.match(String(direct.headers['www-authenticate']), new RegExp(`realm="http://127\\.0\\.0\\.1:${port}/v2/auth"`));
  });

  it('throttles logins by the forwarded address: one client\'s failures do not lock out another', async () => {
    const basic = (user: string) => `Basic ${Buffer.from(`${user}:wrong-password`).toString('base64')}`;
    const from = (address: string, user: string) =>
      getFrom(port, '127.0.0.2', '/v2/auth', { 'x-forwarded-for': address, authorization: basic(user) });
    let status = 0;
    for (let i = 0; i < 5 && status !== 429; i++) status = (await from('198.51.100.20', `nobody-a-${i}`)).status;
    assert.equal(status, 429, 'repeated failures from one forwarded address are throttled');
    const line = await server.waitForLine((l) => l.includes('login throttled after repeated failures'));
    assert.equal(loggedClient(line), '198.51.100.20');
    // Another client behind the same proxy is not throttled by the first one's failures.
    assert.equal((await from('198.51.100.21', 'nobody-b')).status, 401);
    // A client that claims the throttled address without being a trusted proxy is judged by its own.
    const claim = await getFrom(port, '127.0.0.1', '/v2/auth', { 'x-forwarded-for': '198.51.100.20', authorization: basic('nobody-c') });
    assert.equal(claim.status, 401);
  });
});

describe('the PROXY port with EXTERNAL_TLS_TERMINATION: plain HTTP after the header', () => {
  let work: { path: string; remove(): Promise<void> };
  let server: ManagedProcess;
  let port: number;

  before(async () => {
    work = await tempDir('quayside-proxy-plain-');
    const conf = join(work.path, 'conf');
    await mkdir(conf, { recursive: true });
    await writeFile(join(conf, 'config.yaml'), 'EXTERNAL_TLS_TERMINATION: true\nPREFERRED_URL_SCHEME: https\n');
    server = await startProcess({
      command: process.execPath,
      args: [quaysideCli(), 'serve', '--config-dir', conf, '--data-dir', join(work.path, 'data'), '--address', '127.0.0.1', '--port', 'none', '--proxy-port', '0'],
      ready: /PROXY protocol then plain HTTP on 127\.0\.0\.1:(\d+)/,
    });
    port = Number(server.readyMatch[1]);
  });
  after(async () => {
    await server?.stop(60_000);
    await work?.remove();
  });

  it('reads a PROXY v1 header, serves plain HTTP without redirecting, and logs the header\'s address', async () => {
    const socket = await connectTcp(port);
    socket.write('PROXY TCP4 203.0.113.77 127.0.0.1 51000 8443\r\n');
    const answer = await httpOverSocket(socket, '/v2/?proxy-plain');
    socket.destroy();
    // TLS ended at the balancer: this process does not terminate it, so nothing is redirected.
    assert.equal(answer.status, 401);
    const line = await server.waitForLine((l) => l.includes('proxy-plain') && l.includes('"msg":"request"'));
    assert.equal(loggedClient(line), '203.0.113.77');
    // Plain HTTP without a header is closed unanswered.
    const bare = await connectTcp(port);
    const closed = readUntilClosed(bare);
    bare.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal((await closed).data.length, 0);
  });
});
