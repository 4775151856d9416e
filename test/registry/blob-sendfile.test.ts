// Blob bodies sent with sendfile(2) (src/http/file-body.ts): a real registry on local storage, real
// sockets; bytes compared one for one, the path proven by the sendfile counters of /metrics' registry.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { SLICE_BYTES, TAIL_BYTES } from '../../src/http/file-body.js';
import { createMetricsRegistry, type MetricsRegistry } from '../../src/metrics/registry.js';
import { makeCertificate } from '../helpers/haproxy.js';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';
import { waitUntil } from '../helpers/wait.js';

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  socket: Socket;
}

function get(url: string, options: { agent?: http.Agent | false; headers?: Record<string, string>; method?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: options.method ?? 'GET', agent: options.agent ?? false, headers: options.headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks), socket: response.socket }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

async function sendfileCounters(metrics: MetricsRegistry): Promise<{ responses: number; bytes: number; pulled: number }> {
  const families = parsePrometheusText(await metrics.metrics());
  return {
    responses: sampleValue(families, 'quayside_registry_blob_sendfile_responses_total') ?? 0,
    bytes: sampleValue(families, 'quayside_registry_blob_sendfile_bytes_total') ?? 0,
    pulled: sampleValue(families, 'quayside_registry_blob_bytes_pulled_total') ?? 0,
  };
}

async function openDescriptors(): Promise<number> {
  return (await readdir('/proc/self/fd')).length;
}

async function push(base: string, name: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const response = await fetch(new URL(`/v2/${name}/blobs/uploads/?digest=${digest}`, base), {
    method: 'POST',
    body: new Uint8Array(data),
    headers: { 'content-type': 'application/octet-stream' },
  });
  assert.equal(response.status, 201, await response.text());
  return digest;
}

describe('blob GET with sendfile', { timeout: 180_000 }, () => {
  let registry: TestRegistry;
  let metrics: MetricsRegistry;
  // Several slices, and not a multiple of one: the last slice is short.
  const big = randomBytes(3 * SLICE_BYTES + 12_345);
  const small = randomBytes(100_000);
  let bigDigest: string;
  let smallDigest: string;
  const blobUrl = (digest: string) => `${registry.url}/v2/send/file/blobs/${digest}`;

  before(async () => {
    metrics = createMetricsRegistry();
    registry = await startTestRegistry({ metrics });
    bigDigest = await push(registry.url, 'send/file', big);
    smallDigest = await push(registry.url, 'send/file', small);
  });
  after(async () => registry?.close());

  it('sends a whole 48 MiB blob (three slices and a bit) byte for byte, and counts it as sent with sendfile', async () => {
    const before = await sendfileCounters(metrics);
    const answer = await get(blobUrl(bigDigest));
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-length'], String(big.length));
    assert.equal(answer.headers['docker-content-digest'], bigDigest);
    assert.equal(answer.headers['docker-distribution-api-version'], 'registry/2.0', 'the onSend hooks still ran');
    assert.equal(sha256(answer.body), bigDigest);
    const counted = await waitUntil('the response is counted', async () => {
      const now = await sendfileCounters(metrics);
      return now.responses > before.responses && now;
    });
    assert.equal(counted.responses - before.responses, 1);
    // All but the last TAIL_BYTES, which Node writes itself so that the response ends in Node (file-body.ts).
    assert.equal(counted.bytes - before.bytes, big.length - TAIL_BYTES);
    assert.equal(counted.pulled - before.pulled, big.length, 'bytes pulled include the sendfile bytes');
  });

  it('sends ranges (tiny, within a slice, across slices, suffix, open-ended) with 206 and the exact bytes', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=0-0', 0, 0],
      ['bytes=10-99', 10, 99],
      [`bytes=100-${100 + TAIL_BYTES}`, 100, 100 + TAIL_BYTES],
      [`bytes=${SLICE_BYTES - 7}-${2 * SLICE_BYTES + 7}`, SLICE_BYTES - 7, 2 * SLICE_BYTES + 7],
      ['bytes=-1000', big.length - 1000, big.length - 1],
      [`bytes=${big.length - SLICE_BYTES - 3}-`, big.length - SLICE_BYTES - 3, big.length - 1],
      [`bytes=5-${big.length + 100}`, 5, big.length - 1],
    ];
    const before = await sendfileCounters(metrics);
    let expectedBytes = 0;
    let expectedResponses = 0;
    for (const [range, start, end] of cases) {
      const answer = await get(blobUrl(bigDigest), { headers: { range } });
      assert.equal(answer.status, 206, range);
      assert.equal(answer.headers['content-range'], `bytes ${start}-${end}/${big.length}`, range);
      assert.equal(answer.headers['content-length'], String(end - start + 1), range);
      assert.ok(answer.body.equals(big.subarray(start, end + 1)), `${range}: the bytes differ`);
      // Ranges no longer than the tail are streamed: sendfile would send none of their bytes.
      const length = end - start + 1;
      if (length > TAIL_BYTES) {
        expectedResponses += 1;
        expectedBytes += length - TAIL_BYTES;
      }
    }
    const after = await waitUntil('every range is counted', async () => {
      const now = await sendfileCounters(metrics);
      return now.pulled - before.pulled === cases.reduce((sum, [, start, end]) => sum + end - start + 1, 0) && now;
    });
    assert.equal(after.responses - before.responses, expectedResponses);
    assert.equal(after.bytes - before.bytes, expectedBytes);
  });

  it('keeps the connection: the next requests on it (a blob, a HEAD, a range) are answered', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get(blobUrl(smallDigest), { agent });
      assert.ok(first.body.equals(small));
      const second = await get(blobUrl(bigDigest), { agent });
      assert.equal(sha256(second.body), bigDigest);
      const head = await get(blobUrl(bigDigest), { agent, method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], String(big.length));
      const third = await get(blobUrl(smallDigest), { agent, headers: { range: 'bytes=50-' } });
      assert.equal(third.status, 206);
      assert.ok(third.body.equals(small.subarray(50)));
      for (const later of [second, head, third]) assert.equal(later.socket, first.socket, 'one connection for all four');
    } finally {
      agent.destroy();
    }
  });

  it('survives clients that leave mid-transfer, closes their files, and goes on serving', async () => {
    // Settle the descriptors the first requests open once (SQLite, the storage folders) before counting.
    await get(blobUrl(smallDigest));
    const descriptors = await openDescriptors();
    const leavers = 6;
    await Promise.all(
      Array.from({ length: leavers }, (_, i) =>
        new Promise<void>((resolve, reject) => {
          const request = http.get(blobUrl(bigDigest), { agent: false }, (response) => {
            assert.equal(response.statusCode, 200);
            let received = 0;
            response.on('data', (chunk: Buffer) => {
              received += chunk.length;
              // Some leave at the first bytes, others after a few slices.
              if (received >= (i % 2 === 0 ? 1 : SLICE_BYTES + 1)) {
                request.destroy();
                resolve();
              }
            });
          });
          request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
        }),
      ),
    );
    // The native calls hold duplicates of the sockets and files until they end: back to the count means every
    // one of them ended and every blob file was closed. (A cut response is not counted in /metrics, streamed or not.)
    await waitUntil('the blob files and sockets are closed', async () => (await openDescriptors()) <= descriptors);
    const whole = await get(blobUrl(bigDigest));
    assert.equal(sha256(whole.body), bigDigest, 'the server goes on serving');
  });

  it('serves many parallel pulls, whole and ranged, each byte for byte', async () => {
    const before = await sendfileCounters(metrics);
    const pulls = Array.from({ length: 12 }, (_, i) => {
      if (i % 3 === 2) {
        const start = i * 3_000_017;
        return get(blobUrl(bigDigest), { headers: { range: `bytes=${start}-` } }).then((answer) => {
          assert.equal(answer.status, 206);
          assert.ok(answer.body.equals(big.subarray(start)), `pull ${i}: the bytes differ`);
        });
      }
      return get(blobUrl(i % 3 === 0 ? bigDigest : smallDigest)).then((answer) => {
        assert.equal(answer.status, 200);
        assert.equal(sha256(answer.body), i % 3 === 0 ? bigDigest : smallDigest, `pull ${i}`);
      });
    });
    await Promise.all(pulls);
    await waitUntil('all twelve are counted', async () => (await sendfileCounters(metrics)).responses - before.responses === 12);
  });

  it('answers a blob linked but missing from storage with BLOB_UNKNOWN before any header is sent', async () => {
    const lost = randomBytes(1000);
    const lostDigest = await push(registry.url, 'send/file', lost);
    await registry.blobs.delete(lostDigest);
    const answer = await get(blobUrl(lostDigest));
    assert.equal(answer.status, 404);
    assert.equal((JSON.parse(answer.body.toString()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'BLOB_UNKNOWN');
  });

  it('streams (never sendfiles) over TLS, with the same bytes', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'quayside-sendfile-tls-'));
    const pem = await makeCertificate(dir, 'registry.test');
    // TLS terminated in front of the same app, as serve's HTTPS listener hands it decrypted sockets.
    const front = tls.createServer({ cert: pem, key: pem }, (socket) => registry.app.server.emit('connection', socket));
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (front.address() as { port: number }).port;
      const before = await sendfileCounters(metrics);
      const body = await new Promise<Buffer>((resolve, reject) => {
        https
          .get(`https://127.0.0.1:${port}/v2/send/file/blobs/${bigDigest}`, { rejectUnauthorized: false, agent: false, headers: { range: `bytes=3-${2 * SLICE_BYTES}` } }, (response) => {
            assert.equal(response.statusCode, 206);
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => resolve(Buffer.concat(chunks)));
            response.on('error', reject);
          })
          .on('error', reject);
      });
      assert.ok(body.equals(big.subarray(3, 2 * SLICE_BYTES + 1)), 'the TLS bytes differ');
      const now = await waitUntil('the TLS pull is counted', async () => {
        const counters = await sendfileCounters(metrics);
        return counters.pulled - before.pulled === body.length && counters;
      });
      assert.equal(now.responses, before.responses, 'a TLS response never takes the sendfile path');
      assert.equal(now.bytes, before.bytes);
    } finally {
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('blob GET with sendfile to a client that stops reading', { timeout: 120_000 }, () => {
  let registry: TestRegistry;

  before(async () => {
    registry = await startTestRegistry();
    // The socket's timeout is the idle bound (serve sets HTTP_BODY_IDLE_TIMEOUT_S); the listener keeps Node from
    // cutting the socket itself, so only the sender's own idle check can end this transfer.
    registry.app.server.setTimeout(1000, () => undefined);
  });
  after(async () => registry?.close());

  it('cuts the connection once the client took no byte for the socket timeout, and closes everything', async () => {
    const data = randomBytes(48 * 1024 * 1024);
    const digest = await push(registry.url, 'send/stall', data);
    await get(`${registry.url}/v2/send/stall/blobs/${digest}`, { headers: { range: 'bytes=0-10' } });
    const descriptors = await openDescriptors();
    const serverSockets: Socket[] = [];
    registry.app.server.on('request', (request: http.IncomingMessage) => serverSockets.push(request.socket));
    let received = 0;
    const request = http.get(`${registry.url}/v2/send/stall/blobs/${digest}`, { agent: false }, (response) => {
      assert.equal(response.statusCode, 200);
      response.on('error', () => undefined);
      response.once('data', (chunk: Buffer) => {
        received += chunk.length;
        // Never read again: the socket buffers fill and the sender finds no room.
        response.pause();
      });
    });
    request.on('error', () => undefined);
    // A paused client would not read the close behind the bytes it does not read; the server's side says it.
    await waitUntil('the server cuts the connection', () => serverSockets[0]?.destroyed === true);
    assert.ok(received < data.length, 'the body was cut, not finished');
    request.destroy();
    await waitUntil('the blob file and the socket are closed', async () => (await openDescriptors()) <= descriptors);
  });
});
