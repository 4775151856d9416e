// `quayside serve --config-dir` as Quay's conf/stack holds it: HTTPS and the PROXY port (then TLS) next to
// plain HTTP, the https redirect, certificate renewal on SIGHUP, and bad input on every port. Real sockets,
// certificates made by openssl, curl and skopeo as clients.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { assertOneLineFailure, runQuayside, runQuaysideWithInput } from '../helpers/cli.js';
import { buildUmociImage, readLayoutImage } from '../helpers/oci-images.js';
import { quaysideCli, requireCommand, run, runOk, startProcess, type ManagedProcess } from '../helpers/processes.js';
import { connectTcp, httpOverSocket, makePki, readUntilClosed, replaceFile, tempDir, tlsOverProxy, waitFor, type TestPki } from '../net/fixtures.js';

interface Ports {
  http: number;
  https: number;
  proxy: number;
}

/** A PROXY v2 header (PROXY command, TCP over IPv4) announcing `source`. */
function proxyV2(source: string, sourcePort: number): Buffer {
  const signature = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
  const block = Buffer.alloc(12);
  source.split('.').forEach((part, i) => block.writeUInt8(Number(part), i));
  [127, 0, 0, 1].forEach((part, i) => block.writeUInt8(part, 4 + i));
  block.writeUInt16BE(sourcePort, 8);
  block.writeUInt16BE(8443, 10);
  return Buffer.concat([signature, Buffer.from([0x21, 0x11, 0x00, 12]), block]);
}

/** The serial of the certificate a new TLS connection to the HTTPS port is shown. */
async function servedSerial(port: number, ca: string): Promise<string> {
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca }, () => resolve(s));
    s.once('error', reject);
  });
  const serial = socket.getPeerCertificate().serialNumber;
  socket.destroy();
  return serial.toUpperCase();
}

function parsePorts(proc: ManagedProcess): Ports {
  const lines = proc.stdoutLines().join('\n');
  const port = (re: RegExp) => Number(re.exec(lines)?.[1] ?? Number.NaN);
  return {
    http: port(/listening on http:\/\/127\.0\.0\.1:(\d+)/),
    https: port(/listening on https:\/\/127\.0\.0\.1:(\d+)/),
    proxy: port(/PROXY protocol then TLS on 127\.0\.0\.1:(\d+)/),
  };
}

describe('quayside serve --config-dir: HTTPS, PROXY then TLS, redirect, renewal', () => {
  let work: { path: string; remove(): Promise<void> };
  let pki: TestPki;
  let confDir: string;
  let dataDir: string;
  let server: ManagedProcess;
  let ports: Ports;
  const user = { username: 'edge', password: 'edge-password-0123456789' };

  before(async () => {
    work = await tempDir('quayside-serve-edge-');
    pki = await makePki(work.path);
    confDir = join(work.path, 'conf');
    dataDir = join(work.path, 'data');
    await mkdir(join(confDir, 'extra_ca_certs'), { recursive: true });
    const first = await pki.issue('first', '2001');
    await writeFile(join(confDir, 'ssl.cert'), first.chain);
    await writeFile(join(confDir, 'ssl.key'), first.key);
    await writeFile(join(confDir, 'extra_ca_certs', 'corp.crt'), pki.caCert);
    await writeFile(join(confDir, 'config.yaml'), 'PREFERRED_URL_SCHEME: https\nFEATURE_ANONYMOUS_ACCESS: false\n');
    const created = await runQuaysideWithInput(work.path, `${user.password}\n`, 'user', 'create', user.username, '--password-stdin', '--config-dir', confDir, '--data-dir', dataDir, '--init');
    assert.equal(created.code, 0, created.stderr);
    server = await startProcess({
      command: process.execPath,
      args: [quaysideCli(), 'serve', '--config-dir', confDir, '--data-dir', dataDir, '--address', '127.0.0.1', '--port', '0', '--https-port', '0', '--proxy-port', '0'],
      ready: /^metadata: /,
      env: { ...process.env, QUAYSIDE_LOG_LEVEL: 'debug' },
    });
    ports = parsePorts(server);
    assert.ok(ports.http > 0 && ports.https > 0 && ports.proxy > 0, server.stdoutLines().join('\n'));
  });

  after(async () => {
    await server?.stop(60_000);
    await work?.remove();
  });

  it('serves /v2/ over HTTPS to curl trusting the CA, with an https realm', async () => {
    // curl offers h2 first by ALPN over TLS (HTTP/2 and HTTP/1.1 are covered in serve-edge-http2.test.ts).
    const out = await runOk('curl', ['-sS', '-D', '-', '-o', '/dev/null', '--cacert', join(work.path, 'root.crt'), `https://localhost:${ports.https}/v2/`]);
    assert.match(out, /^HTTP\/2 401/);
    assert.match(out, new RegExp(`www-authenticate: Bearer realm="https://localhost:${ports.https}/v2/auth"`, 'i'));
  });

  it('redirects plain HTTP to https with a 301, except the probes', async () => {
    const redirected = await fetch(`http://127.0.0.1:${ports.http}/v2/_catalog?n=1`, { redirect: 'manual' });
    assert.equal(redirected.status, 301);
    assert.equal(redirected.headers.get('location'), `https://127.0.0.1:${ports.https}/v2/_catalog?n=1`);
    const health = await fetch(`http://127.0.0.1:${ports.http}/health/instance`, { redirect: 'manual' });
    assert.equal(health.status, 200);
    const ping = await fetch(`http://127.0.0.1:${ports.http}/v1/_ping`, { redirect: 'manual' });
    assert.notEqual(ping.status, 301);
  });

  it('takes a PROXY v2 header, then TLS, and logs the header\'s client address', async () => {
    const socket = await tlsOverProxy(ports.proxy, proxyV2('198.51.100.7', 40000), { ca: pki.caCert });
    const answer = await httpOverSocket(socket, '/v2/?edge-proxy-v2');
    assert.equal(answer.status, 401);
    const line = await server.waitForLine((l) => l.includes('edge-proxy-v2') && l.includes('"msg":"request"'));
    assert.equal((JSON.parse(line) as { client: string }).client, '198.51.100.7');
  });

  it('logs in and copies an image with skopeo trusting the CA through --cert-dir', async () => {
    const skopeo = requireCommand('skopeo', 'apt-get install skopeo');
    requireCommand('umoci', 'apt-get install umoci');
    const certDir = join(work.path, 'certs.d');
    await mkdir(certDir, { recursive: true });
    await writeFile(join(certDir, 'ca.crt'), pki.caCert);
    const authFile = join(work.path, 'auth.json');
    const registry = `localhost:${ports.https}`;
    await runOk(skopeo, ['login', '--authfile', authFile, '--cert-dir', certDir, '-u', user.username, '--password-stdin', registry], { input: `${user.password}\n`, timeoutMs: 60_000 });
    const image = await buildUmociImage(join(work.path, 'img'), 'v1', 64 * 1024);
    await runOk(skopeo, ['copy', '--authfile', authFile, '--dest-cert-dir', certDir, `oci:${image.dir}:v1`, `docker://${registry}/${user.username}/app:v1`], { timeoutMs: 120_000 });
    await runOk(skopeo, ['copy', '--authfile', authFile, '--src-cert-dir', certDir, `docker://${registry}/${user.username}/app:v1`, `oci:${join(work.path, 'out')}:v1`], { timeoutMs: 120_000 });
    const copied = await readLayoutImage(join(work.path, 'out'), 'v1');
    assert.equal(copied.manifest.digest, image.manifest.digest);
    // Without the CA, skopeo refuses the certificate: it is really verified.
    const untrusted = await run(skopeo, ['inspect', '--authfile', authFile, `docker://${registry}/${user.username}/app:v1`], { timeoutMs: 60_000 });
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.stderr, /certificate/i);
  });

  it('answers bad input with a clear error or a closed connection and stays up', async () => {
    // Garbage on the PROXY port: closed, nothing sent back.
    const garbage = await connectTcp(ports.proxy);
    const garbageClosed = readUntilClosed(garbage);
    garbage.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal((await garbageClosed).data.length, 0);
    // A PROXY header on the plain HTTP port: an HTTP 400, then closed.
    const header = await connectTcp(ports.http);
    const headerClosed = readUntilClosed(header);
    header.write('PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\nGET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match((await headerClosed).data.toString('latin1'), /^HTTP\/1\.1 400/);
    // Plain HTTP on the HTTPS port: closed without an HTTP answer.
    const plain = await run('curl', ['-sS', '-o', '/dev/null', `http://127.0.0.1:${ports.https}/v2/`], { timeoutMs: 30_000 });
    assert.notEqual(plain.code, 0);
    // A TLS handshake on the plain HTTP port: refused.
    const tlsOnHttp = await run('curl', ['-sS', '-o', '/dev/null', '--cacert', join(work.path, 'root.crt'), `https://localhost:${ports.http}/v2/`], { timeoutMs: 30_000 });
    assert.notEqual(tlsOnHttp.code, 0);
    // TLS without a PROXY header on the PROXY port: refused.
    const tlsOnProxy = await run('curl', ['-sS', '-o', '/dev/null', '--cacert', join(work.path, 'root.crt'), `https://localhost:${ports.proxy}/v2/`], { timeoutMs: 30_000 });
    assert.notEqual(tlsOnProxy.code, 0);
    assert.equal(server.running(), true);
    const health = await fetch(`http://127.0.0.1:${ports.http}/health/instance`);
    assert.equal(health.status, 200);
  });

  it('serves a renewed pair to new connections after SIGHUP, keeps open ones, refuses a broken one', async () => {
    const ca = pki.caCert;
    assert.equal(await servedSerial(ports.https, ca), '2001');
    const open = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ port: ports.https, host: '127.0.0.1', servername: 'localhost', ca }, () => resolve(s));
      s.once('error', reject);
    });
    assert.equal((await httpOverSocket(open, '/health/instance', true)).status, 200);

    const renewed = await pki.issue('renewed', '2002');
    await replaceFile(join(confDir, 'ssl.key'), renewed.key);
    await replaceFile(join(confDir, 'ssl.cert'), renewed.chain);
    server.child.kill('SIGHUP');
    await waitFor('the renewed certificate on new connections', async () => (await servedSerial(ports.https, ca)) === '2002');
    // The connection opened before the renewal still works, on its old certificate.
    assert.equal(open.getPeerCertificate().serialNumber.toUpperCase(), '2001');
    assert.equal((await httpOverSocket(open, '/health/instance', true)).status, 200);
    open.destroy();

    // A key that does not match: refused with one line, the renewed pair stays.
    await replaceFile(join(confDir, 'ssl.key'), await pki.strayKey('stray'));
    server.child.kill('SIGHUP');
    await server.waitForLine((line) => line.includes('TLS certificate not reloaded, the previous one stays'));
    assert.equal(await servedSerial(ports.https, ca), '2002');
    assert.equal(server.running(), true);
    await replaceFile(join(confDir, 'ssl.key'), renewed.key);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    await server.stop(60_000);
    assert.equal(server.child.exitCode, 0);
  });
});

describe('quayside --config-dir refuses what cannot start, in one line', () => {
  let work: { path: string; remove(): Promise<void> };
  let pki: TestPki;

  before(async () => {
    work = await tempDir('quayside-config-dir-');
    pki = await makePki(work.path);
  });
  after(async () => {
    await work?.remove();
  });

  async function confWith(name: string, files: Record<string, string>): Promise<string> {
    const dir = join(work.path, name);
    await mkdir(join(dir, 'extra_ca_certs'), { recursive: true });
    for (const [file, contents] of Object.entries({ 'config.yaml': 'SERVER_HOSTNAME: localhost\n', ...files })) await writeFile(join(dir, file), contents);
    return dir;
  }

  it('validates a good directory, and refuses a key not matching the certificate before binding anything', async () => {
    const pair = await pki.issue('good', '3001');
    const good = await confWith('good', { 'ssl.cert': pair.chain, 'ssl.key': pair.key, 'extra_ca_certs/corp.pem': pki.caCert });
    const valid = await runQuayside(work.path, 'config', 'validate', '--config-dir', good);
    assert.equal(valid.code, 0, valid.stderr);
    assert.match(valid.stdout, /valid/);

    const broken = await confWith('broken', { 'ssl.cert': pair.chain, 'ssl.key': await pki.strayKey('other') });
    assertOneLineFailure(await runQuayside(work.path, 'config', 'validate', '--config-dir', broken), 1, /ssl\.key .* does not match the first certificate/);
    const dataDir = join(work.path, 'data-broken');
    assertOneLineFailure(
      await runQuayside(work.path, 'serve', '--config-dir', broken, '--data-dir', dataDir, '--port', '0', '--https-port', '0'),
      1,
      /ssl\.key .* does not match/,
    );
    // Checked before any side effect: no database was created.
    const { existsSync } = await import('node:fs');
    assert.equal(existsSync(join(dataDir, 'quayside.db')), false);
  });

  it('refuses half a pair, an unreadable extra CA, a missing config.yaml and --https-port without a pair', async () => {
    const pair = await pki.issue('half', '3002');
    const half = await confWith('half', { 'ssl.cert': pair.chain });
    assertOneLineFailure(await runQuayside(work.path, 'config', 'validate', '--config-dir', half), 1, /ssl\.cert without ssl\.key/);
    const badCa = await confWith('bad-ca', { 'extra_ca_certs/broken.crt': '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n' });
    assertOneLineFailure(await runQuayside(work.path, 'db', 'status', '--config-dir', badCa, '--data-dir', join(work.path, 'd')), 1, /extra_ca_certs\/broken\.crt/);
    const empty = join(work.path, 'empty');
    await mkdir(empty, { recursive: true });
    assertOneLineFailure(await runQuayside(work.path, 'serve', '--config-dir', empty), 1, /no config\.yaml/);
    const noPair = await confWith('no-pair', {});
    assertOneLineFailure(await runQuayside(work.path, 'serve', '--config-dir', noPair, '--https-port', '0'), 2, /--https-port needs ssl\.cert and ssl\.key/);
    assertOneLineFailure(await runQuayside(work.path, 'serve', '--config-dir', noPair, '--config', join(noPair, 'config.yaml')), 2, /not both/);
  });
});
