// Whatever arrives on the socket, the server answers or hangs up, and keeps serving real clients afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMultiArchIndex, http } from '../helpers/oci-images.js';
import { requireCommand, skopeo, startRegistryUnderTest, type RegistryServer } from '../helpers/processes.js';
import { authHeaders, pushScope, skopeoLogin } from '../helpers/registry-auth.js';

/**
 * Writes raw bytes to the server, half-closes (unless `keepOpen`), and resolves with everything it sent back
 * before closing the connection (or before `timeoutMs`, after which the socket is destroyed).
 */
async function rawExchange(port: number, payload: Buffer | string, options: { keepOpen?: boolean; timeoutMs?: number } = {}) {
  return new Promise<string>((resolveExchange, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), options.timeoutMs ?? 5_000);
    socket.on('connect', () => {
      socket.write(payload);
      if (!options.keepOpen) socket.end();
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A reset is a legitimate way to refuse garbage; only a failure to connect is an error here.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolveExchange(Buffer.concat(chunks).toString('latin1'));
    });
  });
}

const statusOf = (response: string) => Number(/^HTTP\/1\.[01] (\d{3})/.exec(response)?.[1] ?? 0);

describe('the server survives bad input on a raw socket', () => {
  let server: RegistryServer;
  let work: string;

  before(async () => {
    requireCommand('skopeo', 'apt-get install skopeo');
    work = await mkdtemp(join(tmpdir(), 'quayside-e2e-bad-input-'));
    server = await startRegistryUnderTest();
    await skopeoLogin(server, work);
  });

  after(async () => {
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const stillServing = async () => {
    assert.ok(server.process.running(), 'the server process died');
    const res = await http(`${server.url}/v2/`, { headers: await authHeaders(server, 'repository:e2e/bad:pull') });
    assert.equal(res.status, 200, `GET /v2/ answered ${res.status} after bad input`);
  };

  test('garbage instead of HTTP gets a 400 (or a hang-up)', async () => {
    const response = await rawExchange(server.port, 'HELLO THIS IS NOT HTTP\r\n\r\n');
    assert.ok(response === '' || statusOf(response) === 400, `unexpected answer to garbage: ${response.slice(0, 200)}`);
    await stillServing();
  });

  test('random binary bytes get a 400 (or a hang-up)', async () => {
    const response = await rawExchange(server.port, randomBytes(4096));
    assert.ok(response === '' || statusOf(response) === 400, `unexpected answer to binary junk: ${response.slice(0, 200)}`);
    await stillServing();
  });

  test('a 64 KiB header is answered with a proper status, not a crash', async () => {
    const request = `GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: ${'a'.repeat(64 * 1024)}\r\nConnection: close\r\n\r\n`;
    const response = await rawExchange(server.port, request, { keepOpen: true });
    const status = statusOf(response);
    assert.ok([200, 400, 431].includes(status), `a 64 KiB header answered ${status || response.slice(0, 200)}`);
    await stillServing();
  });

  test('a request cut off in the middle of its headers is dropped without harm', async () => {
    await rawExchange(server.port, 'GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: ', { timeoutMs: 500, keepOpen: true });
    await stillServing();
  });

  test('a chunked upload with a broken chunk size fails that upload only', async () => {
    const auth = await authHeaders(server, pushScope('e2e/bad'));
    const started = await http(`${server.url}/v2/e2e/bad/blobs/uploads/`, { method: 'POST', headers: auth });
    assert.equal(started.status, 202);
    const location = new URL(String(started.headers.location), server.url);
    const authLine = auth.authorization === undefined ? '' : `Authorization: ${auth.authorization}\r\n`;
    const request =
      `PATCH ${location.pathname}${location.search} HTTP/1.1\r\nHost: 127.0.0.1\r\n${authLine}Content-Type: application/octet-stream\r\n` +
      'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\nZZZ-not-hex\r\n\r\n';
    const response = await rawExchange(server.port, request, { keepOpen: true });
    const status = statusOf(response);
    assert.ok(status === 0 || status >= 400, `a broken chunked body was accepted with ${status}`);
    await stillServing();
  });

  test('malformed names, digests and tags get 400 with the matching OCI error code', async () => {
    // A bad tag is refused when written; a read of one is a 404 MANIFEST_UNKNOWN (test/registry/routes.test.ts).
    const cases: [string, string, string][] = [
      ['GET', '/v2/UPPER/case/tags/list', 'NAME_INVALID'],
      ['GET', '/v2/e2e/bad/blobs/sha256:xyz', 'DIGEST_INVALID'],
      ['PUT', '/v2/e2e/bad/manifests/bad%20tag', 'MANIFEST_INVALID'],
    ];
    for (const [method, path, code] of cases) {
      const res = await http(`${server.url}${path}`, { method });
      assert.equal(res.status, 400, `${path} answered ${res.status}: ${res.body.toString().slice(0, 200)}`);
      const body = JSON.parse(res.body.toString()) as { errors?: { code: string }[] };
      assert.deepEqual(body.errors?.map((error) => error.code), [code], `${path}: ${res.body.toString()}`);
    }
    await stillServing();
  });

  test('skopeo still pushes and pulls after all of that', async () => {
    const layout = await buildMultiArchIndex(join(work, 'after'), 'v1');
    await skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${server.hostPort}/e2e/after:v1`]);
    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${server.hostPort}/e2e/after:v1`]);
    assert.equal(raw, layout.manifestBytes.toString('utf8'));
  });
});
