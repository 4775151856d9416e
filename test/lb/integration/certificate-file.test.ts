// A certificate given by file path (`pem: /path/site.pem`) through a real HAProxy: the file is read at start,
// a renewal tool replacing the file applies through the runtime API (no reload) like an edited inline PEM,
// a broken renewal is reported and the served certificate stays, and once the file is good again the
// error is gone from /status and from `quayside lb status`. A certificate path that does not exist yet is
// refused, and creating the file then applies it (a reload: the certificate list changed).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { runQuayside } from '../../helpers/cli.js';
import { startHttpBackend, type HttpBackend } from '../../helpers/backends.js';
import { get, makeCertificate, startTestLb, tempDir, waitFor, type TestLb } from '../../helpers/haproxy.js';
import { freePort } from '../../helpers/processes.js';
import type { ControllerStatus } from '../../../src/lb/controller.js';

/** The fingerprint served for `servername` on a new connection (handshake only). */
function servedFingerprint(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('TLS handshake timed out')));
    socket.on('error', reject);
  });
}

describe('a certificate given by file path', () => {
  let app: HttpBackend;
  let lb: TestLb;
  let certs: { path: string; remove(): Promise<void> };
  let certFile: string;
  let https: number;
  let statusPort: number;
  const pem = { first: '', renewed: '', mismatched: '', other: '' };
  let serial = 0;

  /** Replaces the certificate file the way renewal tools do: a new file renamed over the old one. */
  const renew = async (contents: string) => {
    const tmp = join(certs.path, `.site.pem.${++serial}`);
    await writeFile(tmp, contents, { mode: 0o600 });
    await rename(tmp, certFile);
  };

  const status = async (): Promise<ControllerStatus> => {
    const res = await get(statusPort, { path: '/status' });
    assert.equal(res.status, 200);
    return JSON.parse(res.body) as ControllerStatus;
  };

  const yaml = (files: string[]) => `
load_balancer:
  http_ports: []
  https_port: ${https}
  certificates:
${files.map((file, index) => `    - { name: cert-${index}, pem: ${file} }`).join('\n')}
services:
  site:
    internal_port: 80
    backends: ["127.0.0.1:${app.port}"]
`;

  before(async () => {
    certs = await tempDir('qlb-certs-');
    pem.first = await makeCertificate(certs.path, 'site.test');
    pem.renewed = await makeCertificate(certs.path, 'site.test');
    const certOnly = (bundle: string) => bundle.slice(0, bundle.indexOf('-----END CERTIFICATE-----') + 25);
    const keyOnly = (bundle: string) => bundle.slice(bundle.indexOf('-----BEGIN PRIVATE KEY-----'));
    pem.mismatched = `${certOnly(pem.renewed)}\n${keyOnly(pem.first)}`;
    pem.other = await makeCertificate(certs.path, 'other.test');
    certFile = join(certs.path, 'site.pem');
    await writeFile(certFile, pem.first, { mode: 0o600 });
    app = await startHttpBackend('site-app');
    https = await freePort();
    statusPort = await freePort();
    lb = await startTestLb(yaml([certFile]), { statusPort });
  });

  after(async () => {
    await lb?.stop();
    await app?.close();
    await certs?.remove();
  });

  it('serves the certificate read from the file', async () => {
    assert.equal(await servedFingerprint(https, 'site.test'), new X509Certificate(pem.first).fingerprint256);
  });

  it('applies a renewed file through the runtime API, without a reload', async () => {
    const before = await status();
    const masterReloads = await lb.masterReloads();
    await renew(pem.renewed);
    const renewed = new X509Certificate(pem.renewed).fingerprint256;
    await waitFor('the renewed certificate served', async () => (await servedFingerprint(https, 'site.test')) === renewed, 10_000);
    const after = await waitFor('the runtime update counted', async () => {
      const s = await status();
      return s.runtimeUpdates > before.runtimeUpdates && !s.pending ? s : undefined;
    }, 5000);
    assert.equal(after.reloads, before.reloads);
    assert.equal(await lb.masterReloads(), masterReloads, 'a renewed certificate file must not reload HAProxy');
    assert.deepEqual(after.haproxy.workerPids, before.haproxy.workerPids);
    assert.equal(after.lastError, null);
  });

  it('reports a broken renewal, keeps serving, and forgets the error once the file is good again', async () => {
    const renewed = new X509Certificate(pem.renewed).fingerprint256;
    await renew(pem.mismatched);
    const broken = await waitFor('the bad bundle reported', async () => {
      const s = await status();
      return /does not match/.test(s.lastError?.message ?? '') ? s : undefined;
    }, 10_000);
    assert.match(broken.lastError?.message ?? '', /certificates\.0/);
    assert.equal(await servedFingerprint(https, 'site.test'), renewed);
    const shown = await runQuayside(lb.dir, 'lb', 'status', '--url', `http://127.0.0.1:${statusPort}`);
    assert.match(shown.stdout, /^last error .*does not match/m);

    await renew(pem.first);
    const first = new X509Certificate(pem.first).fingerprint256;
    await waitFor('the fixed certificate served', async () => (await servedFingerprint(https, 'site.test')) === first, 10_000);
    const fixed = await waitFor('the error cleared', async () => {
      const s = await status();
      return s.lastError === null && !s.pending ? s : undefined;
    }, 5000);
    assert.equal(fixed.reloadFailures, 0);
    const after = await runQuayside(lb.dir, 'lb', 'status', '--url', `http://127.0.0.1:${statusPort}`);
    assert.equal(after.code, 0, after.stderr);
    assert.doesNotMatch(after.stdout, /last error/);
  });

  it('refuses a certificate file that does not exist yet, and applies it once it is created', async () => {
    const before = await status();
    const otherFile = join(certs.path, 'other.pem');
    await lb.writeConfig(yaml([certFile, otherFile]));
    const refused = await waitFor('the missing file reported', async () => {
      const s = await status();
      return /cannot read certificate file .*other\.pem: ENOENT/.test(s.lastError?.message ?? '') ? s : undefined;
    }, 10_000);
    assert.equal(refused.reloads, before.reloads);

    const tmp = join(certs.path, '.other.pem.tmp');
    await writeFile(tmp, pem.other, { mode: 0o600 });
    await rename(tmp, otherFile);
    const other = new X509Certificate(pem.other).fingerprint256;
    await waitFor('the new certificate served for other.test', async () => (await servedFingerprint(https, 'other.test')) === other, 10_000);
    const after = await waitFor('the reload counted and the error cleared', async () => {
      const s = await status();
      return s.reloads > before.reloads && s.lastError === null && !s.pending ? s : undefined;
    }, 10_000);
    assert.match(after.lastReload?.reason ?? '', /certificate list changed/);
  });
});
