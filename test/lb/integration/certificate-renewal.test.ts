// Certificate renewal through a real HAProxy: new PEM content under the same certificate name goes through
// the runtime API (`set ssl cert` + `commit ssl cert`) without a reload, while a new certificate name is a
// structural change that reloads. Checked from the outside: the certificate served on new TLS connections,
// the master's reload counter and pid, the controller's /status counters.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { startHttpBackend, type HttpBackend, type EchoReport } from '../../helpers/backends.js';
import { get, makeCertificate, startTestLb, tempDir, waitFor, type TestLb } from '../../helpers/haproxy.js';
import { freePort } from '../../helpers/processes.js';
import type { ControllerStatus } from '../../../src/lb/controller.js';

/** What one HTTPS exchange over a fresh connection showed: the served certificate and the answer. */
interface HttpsExchange {
  fingerprint: string;
  status: number;
  body: string;
}

/** The SHA-256 fingerprint of the leaf certificate of a PEM bundle, in Node's `AB:CD:...` form. */
function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/**
 * One HTTP/1.1 GET over a new TLS connection (never a resumed session: tickets are off in HAProxy and no
 * session is offered here), so the certificate seen is the one HAProxy serves now.
 */
function httpsExchange(port: number, servername: string, path = '/'): Promise<HttpsExchange> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    const chunks: Buffer[] = [];
    let fingerprint = '';
    socket.setTimeout(30_000, () => socket.destroy(new Error('HTTPS exchange timed out')));
    socket.on('secureConnect', () => {
      fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const head = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (!head?.[1]) {
        reject(new Error(`no HTTP response over TLS: ${text.slice(0, 200)}`));
        return;
      }
      resolve({ fingerprint, status: Number(head[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    socket.on('error', reject);
  });
}

/** The fingerprint served for `servername` on a new connection (handshake only). */
function servedFingerprint(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.setTimeout(30_000, () => socket.destroy(new Error('TLS handshake timed out')));
    socket.on('error', reject);
  });
}

function indent(pem: string, spaces: number): string {
  return pem.trim().split('\n').map((l) => `${' '.repeat(spaces)}${l}`).join('\n');
}

describe('certificate renewal without a reload', () => {
  let app: HttpBackend;
  let lb: TestLb;
  let http: number;
  let https: number;
  let statusPort: number;
  const pem = { siteA: '', siteB: '', other: '', mismatched: '' };
  const fp = { siteA: '', siteB: '', other: '' };

  const yaml = (certificates: Array<{ name: string; pem: string }>) => `
load_balancer:
  bind_address: 127.0.0.1
  http_ports: [${http}]
  https_port: ${https}
  certificates:
${certificates.map((c) => `    - name: ${c.name}\n      pem: |\n${indent(c.pem, 8)}`).join('\n')}
services:
  site:
    internal_port: 80
    virtual_hosts: [site.test, other.test]
    backends: ["127.0.0.1:${app.port}"]
`;

  const status = async (): Promise<ControllerStatus> => {
    const res = await get(statusPort, { path: '/status' });
    assert.equal(res.status, 200);
    return JSON.parse(res.body) as ControllerStatus;
  };

  before(async () => {
    const certs = await tempDir();
    try {
      // makeCertificate names its files after the CN: each call overwrites the previous pair, and the
      // returned bundle is what counts.
      pem.siteA = await makeCertificate(certs.path, 'site.test');
      pem.siteB = await makeCertificate(certs.path, 'site.test');
      pem.other = await makeCertificate(certs.path, 'other.test');
      // Renewed certificate with the key of the previous one: a classic operator mistake.
      const certOnly = (bundle: string) => bundle.slice(0, bundle.indexOf('-----END CERTIFICATE-----') + 25);
      const keyOnly = (bundle: string) => bundle.slice(bundle.indexOf('-----BEGIN PRIVATE KEY-----'));
      pem.mismatched = `${certOnly(pem.siteB)}\n${keyOnly(pem.siteA)}`;
    } finally {
      await certs.remove();
    }
    fp.siteA = fingerprintOf(pem.siteA);
    fp.siteB = fingerprintOf(pem.siteB);
    fp.other = fingerprintOf(pem.other);
    app = await startHttpBackend('site-app');
    http = await freePort();
    https = await freePort();
    statusPort = await freePort();
    lb = await startTestLb(yaml([{ name: 'site', pem: pem.siteA }]), { statusPort });
  });

  after(async () => {
    await lb?.stop();
    await app?.close();
  });

  it('serves the first certificate for site.test', async () => {
    assert.notEqual(fp.siteA, fp.siteB, 'openssl made two different certificates');
    assert.equal(await servedFingerprint(https, 'site.test'), fp.siteA);
    const res = await httpsExchange(https, 'site.test', '/before');
    assert.equal(res.fingerprint, fp.siteA);
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body) as EchoReport).backend, 'site-app');
  });

  it('renews the content of a certificate through the runtime API, without a reload', async () => {
    const before = await status();
    const masterReloads = await lb.masterReloads();
    assert.equal(before.lastError, null);
    await lb.writeConfig(yaml([{ name: 'site', pem: pem.siteB }]));
    await waitFor('the renewed certificate served on new connections', async () => (await servedFingerprint(https, 'site.test')) === fp.siteB);
    // The controller counts the update right after `commit ssl cert` answers: give it that moment.
    const after = await waitFor('the runtime update counted', async () => {
      const s = await status();
      return s.runtimeUpdates > before.runtimeUpdates && !s.pending ? s : undefined;
    });
    assert.equal(after.runtimeUpdates, before.runtimeUpdates + 1);
    assert.equal(await lb.masterReloads(), masterReloads, 'a certificate renewal must not reload HAProxy');
    assert.equal(after.haproxy.reloads, before.haproxy.reloads);
    assert.equal(after.reloads, before.reloads);
    assert.equal(after.reloadFailures, before.reloadFailures);
    assert.equal(after.haproxy.masterPid, before.haproxy.masterPid);
    assert.deepEqual(after.haproxy.workerPids, before.haproxy.workerPids, 'the same worker serves the new certificate');
    assert.equal(after.lastError, null);
    const metrics = await get(statusPort, { path: '/metrics' });
    assert.match(metrics.body, /quayside_lb_runtime_updates_total\{kind="certificate"\} 1\b/);
    // Every new connection now gets the new certificate, and requests still reach the backend.
    for (let i = 0; i < 3; i++) {
      const res = await httpsExchange(https, 'site.test', `/after-${i}`);
      assert.equal(res.fingerprint, fp.siteB);
      assert.equal(res.status, 200);
      assert.equal((JSON.parse(res.body) as EchoReport).path, `/after-${i}`);
    }
    assert.ok(app.requests.some((r) => r.path === '/after-2' && r.headers['x-forwarded-proto'] === 'https'));
  });

  it('refuses a renewal whose key does not match its certificate and keeps serving the current one', async () => {
    const before = await status();
    const masterReloads = await lb.masterReloads();
    await lb.writeConfig(yaml([{ name: 'site', pem: pem.mismatched }]));
    const s = await waitFor('the bad bundle reported', async () => {
      const st = await status();
      return /does not match/.test(st.lastError?.message ?? '') ? st : undefined;
    });
    assert.match(s.lastError?.message ?? '', /site/);
    assert.equal(s.runtimeUpdates, before.runtimeUpdates);
    assert.equal(s.reloads, before.reloads);
    assert.equal(await lb.masterReloads(), masterReloads);
    assert.equal((await httpsExchange(https, 'site.test')).fingerprint, fp.siteB);
  });

  it('reloads to add a certificate under a new name, and serves it by SNI', async () => {
    const before = await status();
    const masterReloads = await lb.masterReloads();
    await lb.writeConfig(yaml([{ name: 'site', pem: pem.siteB }, { name: 'other', pem: pem.other }]));
    await waitFor('the new certificate served for other.test', async () => (await servedFingerprint(https, 'other.test')) === fp.other);
    // The new worker serves before the controller has confirmed the reload through `show proc`.
    const after = await waitFor('the reload counted', async () => {
      const s = await status();
      return s.reloads > before.reloads && !s.pending ? s : undefined;
    });
    assert.equal(after.reloads, before.reloads + 1);
    assert.equal(await lb.masterReloads(), masterReloads + 1);
    assert.equal(after.haproxy.reloads, masterReloads + 1);
    assert.equal(after.haproxy.masterPid, before.haproxy.masterPid);
    assert.equal(after.runtimeUpdates, before.runtimeUpdates);
    assert.match(after.lastReload?.reason ?? '', /certificate list changed/);
    assert.equal(after.lastError, null, 'the refused renewal is no longer the present state once a good file is served');
    // The renewed certificate survives the reload (the new generation of files holds it), still the default.
    assert.equal(await servedFingerprint(https, 'site.test'), fp.siteB);
    assert.equal(await servedFingerprint(https, 'unknown.test'), fp.siteB);
    const res = await httpsExchange(https, 'other.test', '/other');
    assert.equal(res.fingerprint, fp.other);
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body) as EchoReport).backend, 'site-app');
  });
});
