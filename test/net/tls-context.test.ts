import assert from 'node:assert/strict';
import { constants } from 'node:crypto';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { terminateTls, toHttpServer } from '../../src/net/proxy-protocol-handoff.js';
import { createProxyProtocolServer } from '../../src/net/proxy-protocol-listener.js';
import { loadTlsPair, ReloadingTlsContext, TlsPairError, type TlsPair } from '../../src/net/tls-context.js';
import { resolveTlsPolicy, TlsPolicyError } from '../../src/net/tls-policy.js';
import { captureLogs, connectTcp, httpOverSocket, makePki, replaceFile, tempDir, tlsOverProxy, type TestPki } from './fixtures.js';

describe('resolveTlsPolicy (SSL_PROTOCOLS, SSL_CIPHERS)', () => {
  it('defaults to TLS 1.2 and 1.3, a forward-secret cipher list and ALPN h2 + http/1.1', () => {
    const p = resolveTlsPolicy();
    assert.equal(p.contextOptions.minVersion, 'TLSv1.2');
    assert.equal(p.contextOptions.maxVersion, 'TLSv1.3');
    assert.equal(p.contextOptions.secureOptions, 0);
    assert.match(p.contextOptions.ciphers ?? '', /^TLS_AES_128_GCM_SHA256:.*ECDHE-RSA-CHACHA20-POLY1305$/);
    assert.deepEqual(p.alpnProtocols, ['h2', 'http/1.1']);
    assert.equal(p.legacyProtocols, false);
  });

  it('maps a list with a hole onto min/max and a "no TLS 1.2" flag', () => {
    const p = resolveTlsPolicy({ protocols: ['TLSv1.3', 'TLSv1.1'] });
    assert.equal(p.contextOptions.minVersion, 'TLSv1.1');
    assert.equal(p.contextOptions.maxVersion, 'TLSv1.3');
    assert.equal(p.contextOptions.secureOptions, constants.SSL_OP_NO_TLSv1_2);
    assert.equal(p.legacyProtocols, true);
  });

  it('refuses unknown or empty settings with one line naming the key', () => {
    assert.throws(() => resolveTlsPolicy({ protocols: ['SSLv3'] }), (e: unknown) => e instanceof TlsPolicyError && /^SSL_PROTOCOLS: unknown protocol "SSLv3" \(SSL 2 and 3 are broken/.test(e.message));
    assert.throws(() => resolveTlsPolicy({ protocols: ['TLS1.2'] }), /SSL_PROTOCOLS: unknown protocol "TLS1.2"/);
    assert.throws(() => resolveTlsPolicy({ protocols: [] }), /SSL_PROTOCOLS: the list is empty/);
    assert.throws(() => resolveTlsPolicy({ ciphers: ['NOT-A-CIPHER'] }), (e: unknown) => e instanceof TlsPolicyError && /^SSL_CIPHERS: OpenSSL refuses "NOT-A-CIPHER" \(.*no cipher match/.test(e.message));
    assert.throws(() => resolveTlsPolicy({ ciphers: '' }), /SSL_CIPHERS: the list is empty/);
  });
});

describe('TLS pair loading, policy on real handshakes, renewal', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let pki: TestPki;
  let certFile: string;
  let keyFile: string;

  before(async () => {
    dir = await tempDir();
    pki = await makePki(dir.path);
    certFile = join(dir.path, 'ssl.cert');
    keyFile = join(dir.path, 'ssl.key');
    const first = await pki.issue('first', '1a01');
    await writeFile(certFile, first.chain);
    await writeFile(keyFile, first.key);
  });
  after(async () => dir?.remove());

  /** A PROXY + TLS listener on the pair, one client handshake; returns the client socket. */
  async function handshake(pair: TlsPair, client: { maxVersion?: 'TLSv1.2' | 'TLSv1.3'; ciphers?: string } = {}): Promise<TLSSocket> {
    const { logger } = captureLogs();
    const listener = createProxyProtocolServer({
      handoff: terminateTls({ tls: { secureContext: pair.secureContext, alpnProtocols: ['http/1.1'] }, next: (s) => s.end(), logger }),
      logger,
    });
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    try {
      const raw = await connectTcp((listener.address() as AddressInfo).port);
      raw.write('PROXY UNKNOWN\r\n');
      return await new Promise<TLSSocket>((resolve, reject) => {
        const socket = tlsConnect({ socket: raw, servername: 'localhost', ca: pki.caCert, ...client }, () => resolve(socket));
        socket.once('error', reject);
      });
    } finally {
      listener.close();
    }
  }

  it('serves the chain and honours SSL_PROTOCOLS and SSL_CIPHERS', async () => {
    const { logger } = captureLogs();
    const tls13 = await loadTlsPair({ certFile, keyFile }, { protocols: ['TLSv1.3'] }, logger);
    const ok = await handshake(tls13);
    assert.equal(ok.getProtocol(), 'TLSv1.3');
    assert.equal(ok.authorized, true);
    ok.destroy();
    await assert.rejects(handshake(tls13, { maxVersion: 'TLSv1.2' }), /protocol version|alert/);
    const one = await loadTlsPair({ certFile, keyFile }, { protocols: ['TLSv1.2'], ciphers: ['ECDHE-ECDSA-AES256-GCM-SHA384'] }, logger);
    const socket = await handshake(one);
    assert.deepEqual([socket.getProtocol(), socket.getCipher().name], ['TLSv1.2', 'ECDHE-ECDSA-AES256-GCM-SHA384']);
    socket.destroy();
  });

  it('refuses a missing file, garbage, a key of another certificate, with one line naming the file', async () => {
    const { logger } = captureLogs();
    const bad = async (files: { certFile: string; keyFile: string }, pattern: RegExp) =>
      assert.rejects(loadTlsPair(files, {}, logger), (e: unknown) => e instanceof TlsPairError && pattern.test(e.message) && !e.message.includes('\n'));
    await bad({ certFile: join(dir.path, 'nope.cert'), keyFile }, /^ssl\.cert \(.*nope\.cert\): cannot read it: ENOENT/);
    await writeFile(join(dir.path, 'garbage'), 'not a certificate at all');
    await bad({ certFile: join(dir.path, 'garbage'), keyFile }, /^ssl\.cert \(.*garbage\): holds no PEM certificate/);
    await bad({ certFile, keyFile: join(dir.path, 'garbage') }, /^ssl\.key \(.*garbage\): not a usable private key/);
    await writeFile(join(dir.path, 'stray.key'), await pki.strayKey('stray'));
    await bad({ certFile, keyFile: join(dir.path, 'stray.key') }, /^ssl\.key \(.*stray\.key\) does not match the first certificate of ssl\.cert/);
  });

  it('renewed files on disk serve new connections; an open connection keeps working; a broken pair is refused', async () => {
    const logs = captureLogs();
    const context = await ReloadingTlsContext.open({ files: { certFile, keyFile }, logger: logs.logger, debounceMs: 20, policy: { alpnProtocols: ['http/1.1'] } });
    const app = createHttpServer((_req, res) => res.end('ok'));
    const listener = createProxyProtocolServer({ handoff: terminateTls({ tls: context, next: toHttpServer(app), logger: logs.logger }), logger: logs.logger });
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const port = (listener.address() as AddressInfo).port;
    const connectNow = () => tlsOverProxy(port, Buffer.from('PROXY UNKNOWN\r\n'), { ca: pki.caCert });
    try {
      const open = await connectNow();
      const oldSerial = open.getPeerCertificate().serialNumber;
      assert.equal((await httpOverSocket(open, '/', true)).body, 'ok');

      const renewed = await pki.issue('second', '2b02');
      const changed = new Promise<TlsPair>((resolve) => context.onChange(resolve));
      await replaceFile(keyFile, renewed.key);
      await replaceFile(certFile, renewed.chain);
      assert.equal((await changed).certificate.serialNumber, '2B02');
      const fresh = await connectNow();
      assert.equal(fresh.getPeerCertificate().serialNumber, '2B02');
      assert.notEqual(fresh.getPeerCertificate().fingerprint256, open.getPeerCertificate().fingerprint256);
      fresh.destroy();
      // The connection opened before the renewal still works, on its own certificate.
      assert.equal((await httpOverSocket(open, '/', true)).body, 'ok');
      assert.equal(open.getPeerCertificate().serialNumber, oldSerial);
      open.destroy();

      const errorsBefore = logs.at('error').length;
      await replaceFile(keyFile, await pki.strayKey('stray2'));
      assert.equal(await context.reload(), 'refused');
      const errors = logs.at('error').slice(errorsBefore);
      assert.ok(errors.length >= 1);
      assert.ok(errors.every((l) => /^TLS certificate not reloaded, the previous one stays: ssl\.key .* does not match/.test(l.msg)));
      const still = await connectNow();
      assert.equal(still.getPeerCertificate().serialNumber, '2B02');
      still.destroy();

      await replaceFile(keyFile, renewed.key);
      assert.ok(['reloaded', 'unchanged'].includes(await context.reload()));
      assert.equal(await context.reload(), 'unchanged');
    } finally {
      context.close();
      listener.close();
      app.close();
    }
  });
});
