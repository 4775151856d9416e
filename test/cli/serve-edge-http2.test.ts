// HTTP/2 by ALPN on `quayside serve`'s TLS listeners (the HTTPS port, and the PROXY port when it terminates
// TLS): curl --http2 and node's http2 client get HTTP/2, HTTP/1.1 clients still get HTTP/1.1; a blob goes
// up and comes back whole and by Range over HTTP/2; the PROXY header's address is the request log's client
// over HTTP/2; garbage after an h2 handshake closes that connection only; SIGTERM sends GOAWAY and lets a download in flight finish.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runQuaysideWithInput } from '../helpers/cli.js';
import { quaysideCli, runOk, startProcess, type ManagedProcess } from '../helpers/processes.js';
import { connectHttp2, proxyV2Header, tlsSocketTo } from '../helpers/tls-clients.js';
import { makePki, readUntilClosed, tempDir, waitFor, type TestPki } from '../net/fixtures.js';

const USER = { username: 'edge', password: 'edge-password-0123456789' };
const REPOSITORY = `${USER.username}/h2`;

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

describe('quayside serve: HTTP/2 by ALPN on the HTTPS and PROXY ports', { timeout: 180_000 }, () => {
  let work: { path: string; remove(): Promise<void> };
  let pki: TestPki;
  let server: ManagedProcess;
  let https = 0;
  let proxy = 0;
  let caFile = '';
  let token = '';
  // Large enough that HTTP/2 flow control (64 KiB windows) takes many round trips.
  const blob = randomBytes(3 * 1024 * 1024 + 17);
  const digest = sha256(blob);

  before(async () => {
    work = await tempDir('quayside-serve-h2-');
    pki = await makePki(work.path);
    caFile = join(work.path, 'root.crt');
    const confDir = join(work.path, 'conf');
    const dataDir = join(work.path, 'data');
    await mkdir(confDir, { recursive: true });
    const pair = await pki.issue('h2', '4001');
    await writeFile(join(confDir, 'ssl.cert'), pair.chain);
    await writeFile(join(confDir, 'ssl.key'), pair.key);
    await writeFile(join(confDir, 'config.yaml'), 'PREFERRED_URL_SCHEME: https\nFEATURE_ANONYMOUS_ACCESS: false\n');
    const created = await runQuaysideWithInput(work.path, `${USER.password}\n`, 'user', 'create', USER.username, '--password-stdin', '--config-dir', confDir, '--data-dir', dataDir, '--init');
    assert.equal(created.code, 0, created.stderr);
    server = await startProcess({
      command: process.execPath,
      args: [quaysideCli(), 'serve', '--config-dir', confDir, '--data-dir', dataDir, '--address', '127.0.0.1', '--port', 'none', '--https-port', '0', '--proxy-port', '0'],
      ready: /^metadata: /,
    });
    const lines = server.stdoutLines().join('\n');
    https = Number(/listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(lines)?.[1]);
    proxy = Number(/PROXY protocol then TLS on 127\.0\.0\.1:(\d+)/.exec(lines)?.[1]);
    assert.ok(https > 0 && proxy > 0, lines);
  });

  after(async () => {
    await server?.stop(60_000);
    await work?.remove();
  });

  it('answers curl --http2 with HTTP/2 on both ports and curl --http1.1 with HTTP/1.1', async () => {
    const h2 = await runOk('curl', ['-sS', '--http2', '-D', '-', '-o', '/dev/null', '--cacert', caFile, `https://localhost:${https}/v2/`]);
    assert.match(h2, /^HTTP\/2 401/);
    // The realm is built from :authority (HTTP/2 has no Host header).
    assert.match(h2, new RegExp(`www-authenticate: Bearer realm="https://localhost:${https}/v2/auth"`, 'i'));
    const viaProxy = await runOk('curl', ['-sS', '--http2', '--haproxy-protocol', '-D', '-', '--cacert', caFile, `https://localhost:${proxy}/v1/_ping`]);
    assert.match(viaProxy, /^HTTP\/2 200/);
    assert.match(viaProxy, /\r\n\r\ntrue$/);
    const h1 = await runOk('curl', ['-sS', '--http1.1', '-D', '-', '-o', '/dev/null', '--cacert', caFile, `https://localhost:${https}/v2/`]);
    assert.match(h1, /^HTTP\/1\.1 401/);
    const h1ViaProxy = await runOk('curl', ['-sS', '--http1.1', '--haproxy-protocol', '-D', '-', '-o', '/dev/null', '--cacert', caFile, `https://localhost:${proxy}/v1/_ping`]);
    assert.match(h1ViaProxy, /^HTTP\/1\.1 200/);
  });

  it('logs in and pushes a blob over HTTP/2 (node http2 client)', async () => {
    const login = await runOk('curl', ['-sS', '--http2', '--cacert', caFile, '-u', `${USER.username}:${USER.password}`, `https://localhost:${https}/v2/auth?service=localhost:${https}&scope=repository:${REPOSITORY}:pull,push`]);
    token = (JSON.parse(login) as { token: string }).token;
    assert.ok(token.length > 20);
    const client = connectHttp2({ port: https, ca: pki.caCert });
    try {
      assert.equal((await client.negotiated()).alpn, 'h2');
      const auth = { authorization: `Bearer ${token}` };
      const started = await client.request('POST', `/v2/${REPOSITORY}/blobs/uploads/`, auth);
      assert.equal(started.status, 202, started.body.toString());
      const location = new URL(String(started.headers.location), `https://localhost:${https}`);
      location.searchParams.set('digest', digest);
      const put = await client.request('PUT', `${location.pathname}${location.search}`, { ...auth, 'content-type': 'application/octet-stream' }, blob);
      assert.equal(put.status, 201, put.body.toString());
      const head = await client.request('HEAD', `/v2/${REPOSITORY}/blobs/${digest}`, auth);
      assert.equal(head.status, 200);
      assert.equal(Number(head.headers['content-length']), blob.length);
    } finally {
      await client.close();
    }
  });

  it('streams the blob whole and by Range to curl --http2', async () => {
    const whole = join(work.path, 'whole.bin');
    const headers = await runOk('curl', ['-sS', '--http2', '-D', '-', '-o', whole, '--cacert', caFile, '-H', `authorization: Bearer ${token}`, `https://localhost:${https}/v2/${REPOSITORY}/blobs/${digest}`]);
    assert.match(headers, /^HTTP\/2 200/);
    assert.equal(sha256(await readFile(whole)), digest);
    const part = join(work.path, 'part.bin');
    const ranged = await runOk('curl', ['-sS', '--http2', '-D', '-', '-o', part, '-r', '1000000-2000123', '--cacert', caFile, '-H', `authorization: Bearer ${token}`, `https://localhost:${https}/v2/${REPOSITORY}/blobs/${digest}`]);
    assert.match(ranged, /^HTTP\/2 206/);
    assert.match(ranged, new RegExp(`content-range: bytes 1000000-2000123/${blob.length}`, 'i'));
    assert.ok((await readFile(part)).equals(blob.subarray(1000000, 2000124)));
  });

  it('serves HTTP/2 after a PROXY v2 header and logs the header\'s address as the client', async () => {
    const client = connectHttp2({ port: proxy, ca: pki.caCert, proxyHeader: proxyV2Header('198.51.100.23', 41000) });
    try {
      assert.equal((await client.negotiated()).alpn, 'h2');
      // The token names the HTTPS port's service; the same host behind a balancer would be one name.
      const auth = { authorization: `Bearer ${token}`, ':authority': `localhost:${https}` };
      const answer = await client.request('GET', `/v2/${REPOSITORY}/blobs/${digest}?via=proxy-h2`, auth);
      assert.equal(answer.status, 200);
      assert.ok(answer.body.equals(blob));
      const ranged = await client.request('GET', `/v2/${REPOSITORY}/blobs/${digest}?via=proxy-h2-range`, { ...auth, range: 'bytes=5-9' });
      assert.equal(ranged.status, 206);
      assert.ok(ranged.body.equals(blob.subarray(5, 10)));
    } finally {
      await client.close();
    }
    for (const via of ['proxy-h2', 'proxy-h2-range']) {
      const line = await server.waitForLine((l) => l.includes(`via=${via}"`) && l.includes('"msg":"request"'));
      const logged = JSON.parse(line) as { client: string; bytes: number; status: number };
      assert.equal(logged.client, '198.51.100.23');
      assert.equal(logged.bytes, via === 'proxy-h2' ? blob.length : 5);
    }
  });

  it('closes a connection that negotiated h2 and sends garbage, answers a bad /v2 path with OCI JSON, stays up', async () => {
    const socket = tlsSocketTo({ port: https, ca: pki.caCert, alpn: ['h2'] });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', () => resolve()).once('error', reject));
    assert.equal(socket.alpnProtocol, 'h2');
    const closed = readUntilClosed(socket);
    socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await closed;
    const client = connectHttp2({ port: https, ca: pki.caCert });
    try {
      const bad = await client.request('GET', '/v2/UPPER/case/manifests/latest', { authorization: `Bearer ${token}` });
      assert.equal(bad.status, 400);
      assert.match(bad.body.toString(), /^\{"errors":\[\{"code":"NAME_INVALID"/);
      assert.equal((await client.request('GET', '/v1/_ping')).body.toString(), 'true');
    } finally {
      await client.close();
    }
    assert.equal(server.running(), true);
  });

  it('on SIGTERM sends GOAWAY, finishes the download in flight, and exits 0', async () => {
    const client = connectHttp2({ port: https, ca: pki.caCert });
    await client.negotiated();
    const goaway = new Promise<void>((resolve) => client.session.once('goaway', () => resolve()));
    const stream = client.session.request({ ':method': 'GET', ':path': `/v2/${REPOSITORY}/blobs/${digest}`, authorization: `Bearer ${token}` });
    // Not reading holds the response in flight: flow control stops the server after the first window.
    stream.pause();
    const status = await new Promise<number>((resolve) => stream.once('response', (h) => resolve(Number(h[':status']))));
    assert.equal(status, 200);
    server.child.kill('SIGTERM');
    await server.waitForLine((l) => l.includes('SIGTERM received, draining'));
    await goaway;
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    await new Promise<void>((resolve, reject) => {
      stream.once('end', () => resolve());
      stream.once('error', reject);
      stream.resume();
    });
    assert.equal(sha256(Buffer.concat(chunks)), digest);
    client.session.destroy();
    await waitFor('the server to exit', () => server.child.exitCode !== null, 60_000);
    assert.equal(server.child.exitCode, 0);
  });
});
