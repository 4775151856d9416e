// A pull cut off midway resumes with a Range request and yields exactly the blob's bytes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { http, pushBlob } from '../helpers/oci-images.js';
import { startRegistryUnderTest, type RegistryServer } from '../helpers/processes.js';
import { authHeaders, pushScope } from '../helpers/registry-auth.js';

const SIZE = 8 * 1024 * 1024;

/** Starts a GET and destroys it once at least `stopAfter` bytes arrived; resolves with what was received. */
async function interruptedGet(url: string, stopAfter: number, headers: Record<string, string>): Promise<{ status: number; received: Buffer }> {
  return new Promise((resolveGet, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const req = request(url, { agent: false, headers }, (res) => {
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        length += chunk.length;
        if (length >= stopAfter && !req.destroyed) {
          req.destroy();
          resolveGet({ status: res.statusCode ?? 0, received: Buffer.concat(chunks) });
        }
      });
      res.on('end', () => reject(new Error(`the download finished (${length} bytes) before it could be interrupted`)));
      res.on('error', () => undefined);
    });
    req.on('error', (error) => {
      if (!req.destroyed || length < stopAfter) reject(error);
    });
    req.end();
  });
}

describe('interrupted pulls resume with Range', () => {
  let server: RegistryServer;
  let blob: Buffer;
  let digest: string;
  let auth: Record<string, string>;

  before(async () => {
    server = await startRegistryUnderTest();
    blob = randomBytes(SIZE);
    auth = await authHeaders(server, pushScope('e2e/big'));
    digest = await pushBlob(server.url, 'e2e/big', blob, auth);
  });

  after(async () => {
    await server?.stop();
  });

  test('a GET destroyed midway, then Range: bytes=<received>-, reassembles the blob', async () => {
    const url = `${server.url}/v2/e2e/big/blobs/${digest}`;
    const first = await interruptedGet(url, 3 * 1024 * 1024, auth);
    assert.equal(first.status, 200);
    assert.ok(first.received.length < SIZE, 'the first transfer was not interrupted');
    assert.ok(first.received.equals(blob.subarray(0, first.received.length)), 'the first part holds other bytes');

    const offset = first.received.length;
    const rest = await http(url, { headers: { ...auth, range: `bytes=${offset}-` } });
    assert.equal(rest.status, 206, `a Range GET answered ${rest.status}`);
    assert.equal(rest.headers['content-range'], `bytes ${offset}-${SIZE - 1}/${SIZE}`);
    assert.equal(Number(rest.headers['content-length']), SIZE - offset);

    const whole = Buffer.concat([first.received, rest.body]);
    assert.equal(whole.length, SIZE);
    assert.equal(`sha256:${createHash('sha256').update(whole).digest('hex')}`, digest);
  });

  test('the server goes on after the interrupted transfer and serves a closed range too', async () => {
    const url = `${server.url}/v2/e2e/big/blobs/${digest}`;
    const middle = await http(url, { headers: { ...auth, range: 'bytes=1000-1999' } });
    assert.equal(middle.status, 206);
    assert.equal(middle.headers['content-range'], `bytes 1000-1999/${SIZE}`);
    assert.ok(middle.body.equals(blob.subarray(1000, 2000)));
  });

  test('a range past the end is refused with 416 and the full size', async () => {
    const res = await http(`${server.url}/v2/e2e/big/blobs/${digest}`, { headers: { ...auth, range: `bytes=${SIZE}-` } });
    assert.equal(res.status, 416, `an unsatisfiable range answered ${res.status}`);
    assert.equal(res.headers['content-range'], `bytes */${SIZE}`);
  });
});
