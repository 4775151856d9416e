// The connection bounds hold for HTTP/2 sessions as for HTTP/1.1 connections: HTTP_MAX_CONNECTIONS counts
// both (one over the limit gets a 503 with Retry-After in its own protocol), a slot comes back when a session
// closes, and a session idle for HTTP_IDLE_TIMEOUT_S is closed by the server.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { quaysideCli, startProcess, type ManagedProcess } from '../helpers/processes.js';
import { connectHttp2, proxyV2Header, tlsSocketTo, type Http2Client } from '../helpers/tls-clients.js';
import { httpOverSocket, makePki, tempDir, waitFor, type TestPki } from '../net/fixtures.js';

describe('HTTP/2 sessions under HTTP_MAX_CONNECTIONS and HTTP_IDLE_TIMEOUT_S', { timeout: 120_000 }, () => {
  let work: { path: string; remove(): Promise<void> };
  let pki: TestPki;
  let server: ManagedProcess;
  let https = 0;
  let proxy = 0;

  before(async () => {
    work = await tempDir('quayside-h2-limits-');
    pki = await makePki(work.path);
    const confDir = join(work.path, 'conf');
    await mkdir(confDir, { recursive: true });
    const pair = await pki.issue('limits', '7001');
    await writeFile(join(confDir, 'ssl.cert'), pair.chain);
    await writeFile(join(confDir, 'ssl.key'), pair.key);
    await writeFile(join(confDir, 'config.yaml'), 'HTTP_MAX_CONNECTIONS: 2\nHTTP_IDLE_TIMEOUT_S: 2\n');
    server = await startProcess({
      command: process.execPath,
      args: [quaysideCli(), 'serve', '--config-dir', confDir, '--data-dir', join(work.path, 'data'), '--address', '127.0.0.1', '--port', 'none', '--https-port', '0', '--proxy-port', '0'],
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

  it('counts HTTP/2 sessions with HTTP/1.1 connections and answers the one over the limit with a 503', async () => {
    const first = connectHttp2({ port: https, ca: pki.caCert });
    const second = connectHttp2({ port: proxy, ca: pki.caCert, proxyHeader: proxyV2Header('198.51.100.44', 40_000) });
    let third: Http2Client | undefined;
    try {
      assert.equal((await first.request('GET', '/v1/_ping')).status, 200);
      assert.equal((await second.request('GET', '/v1/_ping')).status, 200);
      third = connectHttp2({ port: https, ca: pki.caCert });
      const refused = await third.request('GET', '/v1/_ping');
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['retry-after'], '1');
      assert.match(refused.body.toString(), /too many connections/);
      // An HTTP/1.1 connection over TLS is refused at the same count.
      const h1 = tlsSocketTo({ port: https, ca: pki.caCert, alpn: ['http/1.1'] });
      await new Promise<void>((resolve, reject) => h1.once('secureConnect', () => resolve()).once('error', reject));
      assert.equal((await httpOverSocket(h1, '/v1/_ping')).status, 503);
      h1.destroy();
      await server.waitForLine((line) => line.includes('refusing connections: HTTP_MAX_CONNECTIONS reached'));
    } finally {
      third?.session.destroy();
      await second.close();
    }
    // The closed session's slot comes back.
    await waitFor('a slot freed by the closed session', async () => {
      const next = connectHttp2({ port: https, ca: pki.caCert });
      try {
        return (await next.request('GET', '/v1/_ping')).status === 200;
      } finally {
        next.session.destroy();
      }
    }, 30_000);
    await first.close();
  });

  it('closes an HTTP/2 session idle for HTTP_IDLE_TIMEOUT_S', async () => {
    const client = connectHttp2({ port: https, ca: pki.caCert });
    assert.equal((await client.request('GET', '/v1/_ping')).status, 200);
    // The server ends the session with GOAWAY, then the connection closes; nothing here closes it.
    const goaway = new Promise<void>((resolve) => client.session.once('goaway', () => resolve()));
    await new Promise<void>((resolve) => client.session.once('close', () => resolve()));
    await goaway;
    assert.equal(client.session.destroyed, true);
  });
});
