// Certificate renewal under load on the PROXY + TLS port: clients keep making requests over new connections
// (HTTP/1.1 and HTTP/2) and over kept-alive ones while ssl.cert/ssl.key are replaced on disk (no signal) by
// a certificate from the same CA with another serial. No request fails, new connections see the new serial,
// the kept-alive connections go on with the old one.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { quaysideCli, startProcess, type ManagedProcess } from '../helpers/processes.js';
import { connectHttp2, proxyV2Header, tlsSocketTo, type Http2Client } from '../helpers/tls-clients.js';
import { httpOverSocket, makePki, replaceFile, tempDir, waitFor, type TestPki } from '../net/fixtures.js';
import type { TLSSocket } from 'node:tls';

const OLD_SERIAL = '6001';
const NEW_SERIAL = '6002';

interface Tally {
  ok: number;
  failures: string[];
  /** Requests on new connections, by the serial each connection was shown. */
  newConnectionsBySerial: Map<string, number>;
  /** Requests each kept-alive connection completed after new connections first saw the new serial. */
  keptAfterRenewal: number[];
}

function secureSocket(port: number, ca: string, source: string, alpn: string[]): Promise<TLSSocket> {
  const socket = tlsSocketTo({ port, ca, proxyHeader: proxyV2Header(source, 40_000), alpn });
  return new Promise((resolve, reject) => {
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('certificate renewal on disk under load, through the PROXY + TLS port', { timeout: 180_000 }, () => {
  let work: { path: string; remove(): Promise<void> };
  let pki: TestPki;
  let confDir: string;
  let server: ManagedProcess;
  let port = 0;

  before(async () => {
    work = await tempDir('quayside-renewal-');
    pki = await makePki(work.path);
    confDir = join(work.path, 'conf');
    await mkdir(confDir, { recursive: true });
    const first = await pki.issue('first', OLD_SERIAL);
    await writeFile(join(confDir, 'ssl.cert'), first.chain);
    await writeFile(join(confDir, 'ssl.key'), first.key);
    await writeFile(join(confDir, 'config.yaml'), 'PREFERRED_URL_SCHEME: https\n');
    server = await startProcess({
      command: process.execPath,
      args: [quaysideCli(), 'serve', '--config-dir', confDir, '--data-dir', join(work.path, 'data'), '--address', '127.0.0.1', '--port', 'none', '--proxy-port', '0'],
      ready: /PROXY protocol then TLS on 127\.0\.0\.1:(\d+)/,
    });
    port = Number(server.readyMatch[1]);
  });

  after(async () => {
    await server?.stop(60_000);
    await work?.remove();
  });

  it('fails no request, and new connections get the new serial while kept-alive ones keep theirs', async () => {
    const ca = pki.caCert;
    const tally: Tally = { ok: 0, failures: [], newConnectionsBySerial: new Map(), keptAfterRenewal: [] };
    let renewedSeen = false;
    let stop = false;
    const record = (serial: string, status: number, what: string) => {
      if (status !== 200) tally.failures.push(`${what}: status ${status}`);
      else tally.ok += 1;
      if (status === 200) tally.newConnectionsBySerial.set(serial, (tally.newConnectionsBySerial.get(serial) ?? 0) + 1);
      if (serial === NEW_SERIAL) renewedSeen = true;
    };
    const guarded = async (what: string, body: () => Promise<void>) => {
      try {
        await body();
      } catch (error) {
        tally.failures.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };

    // Kept-alive connections, opened before the renewal: one HTTP/1.1, one HTTP/2.
    const keptH1 = await secureSocket(port, ca, '198.51.100.61', ['http/1.1']);
    const keptH2: Http2Client = connectHttp2({ port, ca, proxyHeader: proxyV2Header('198.51.100.62', 40_000) });
    assert.equal((await keptH2.negotiated()).serial, OLD_SERIAL);
    assert.equal(keptH1.getPeerCertificate().serialNumber.toUpperCase(), OLD_SERIAL);
    const keptSerials = { h1: OLD_SERIAL, h2: OLD_SERIAL };

    const keptLoop = async (index: number, request: () => Promise<number>) => {
      tally.keptAfterRenewal[index] = 0;
      while (!stop) {
        const seenBefore = renewedSeen;
        const status = await request();
        if (status !== 200) tally.failures.push(`kept-alive ${index}: status ${status}`);
        else tally.ok += 1;
        if (seenBefore) tally.keptAfterRenewal[index]! += 1;
      }
    };
    const newConnectionLoop = async (index: number) => {
      while (!stop) {
        if (index % 2 === 0) {
          await guarded(`new HTTP/1.1 connection (${index})`, async () => {
            const socket = await secureSocket(port, ca, `198.51.100.${70 + index}`, ['http/1.1']);
            const serial = socket.getPeerCertificate().serialNumber.toUpperCase();
            const answer = await httpOverSocket(socket, '/health/instance');
            socket.destroy();
            record(serial, answer.status, 'new HTTP/1.1 connection');
          });
        } else {
          await guarded(`new HTTP/2 connection (${index})`, async () => {
            const client = connectHttp2({ port, ca, proxyHeader: proxyV2Header(`198.51.100.${70 + index}`, 40_000) });
            try {
              const { serial } = await client.negotiated();
              record(serial, (await client.request('GET', '/v1/_ping')).status, 'new HTTP/2 connection');
            } finally {
              await client.close();
            }
          });
        }
      }
    };

    const load = Promise.all([
      guarded('kept-alive HTTP/1.1', () => keptLoop(0, async () => (await httpOverSocket(keptH1, '/health/instance', true)).status)),
      guarded('kept-alive HTTP/2', () => keptLoop(1, async () => (await keptH2.request('GET', '/v1/_ping')).status)),
      ...[0, 1, 2, 3].map((index) => newConnectionLoop(index)),
    ]);
    try {
      // Under way before the renewal: new connections on the old certificate.
      await waitFor('requests on the old certificate', () => (tally.newConnectionsBySerial.get(OLD_SERIAL) ?? 0) >= 20, 60_000);
      const renewed = await pki.issue('renewed', NEW_SERIAL);
      await replaceFile(join(confDir, 'ssl.key'), renewed.key);
      await replaceFile(join(confDir, 'ssl.cert'), renewed.chain);
      await waitFor('new connections on the new certificate', () => (tally.newConnectionsBySerial.get(NEW_SERIAL) ?? 0) >= 20, 60_000);
      await waitFor('kept-alive connections still answering after the renewal', () => tally.keptAfterRenewal.every((count) => count >= 5), 60_000);
    } finally {
      stop = true;
      await load;
    }
    keptSerials.h1 = keptH1.getPeerCertificate().serialNumber.toUpperCase();
    keptSerials.h2 = (await keptH2.negotiated()).serial;
    keptH1.destroy();
    await keptH2.close();

    assert.deepEqual(tally.failures, []);
    assert.deepEqual(keptSerials, { h1: OLD_SERIAL, h2: OLD_SERIAL });
    assert.ok(tally.ok > 80, `requests served: ${tally.ok}`);
    await server.waitForLine((line) => line.includes('TLS certificate reloaded') && line.includes(`"serial":"${NEW_SERIAL}"`));
    // Once a connection has seen the new serial, no later one is shown the old.
    const latest = await (async () => {
      const fresh = await secureSocket(port, ca, '198.51.100.99', ['http/1.1']);
      const serial = fresh.getPeerCertificate().serialNumber.toUpperCase();
      fresh.destroy();
      return serial;
    })();
    assert.equal(latest, NEW_SERIAL);
    assert.equal(server.running(), true);
  });
});
