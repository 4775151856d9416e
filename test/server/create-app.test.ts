import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Metadata } from '../../src/db/metadata.js';
import { once } from 'node:events';
import { request, Agent } from 'node:http';
import { createHash } from 'node:crypto';
import { capturingLogger, requestLines } from '../helpers/log-capture.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';
import { waitUntil } from '../helpers/wait.js';
import { putManifest, seededImage } from '../registry/manifest-fixtures.js';

/** Metadata whose tag lookups fail unexpectedly. */
function failingTags(m: Metadata): Metadata {
  return {
    repositories: m.repositories,
    blobs: m.blobs,
    uploads: m.uploads,
    manifests: {
      putManifest: (id, manifest, tags) => m.manifests.putManifest(id, manifest, tags),
      getManifest: (id, digest) => m.manifests.getManifest(id, digest),
      getTaggedManifest: async () => {
        throw new Error('tag table on fire');
      },
      hasManifest: (id, digest) => m.manifests.hasManifest(id, digest),
      presentManifests: (id, digests) => m.manifests.presentManifests(id, digests),
      deleteManifest: (id, digest) => m.manifests.deleteManifest(id, digest),
      listReferrers: (id, subject, artifactType) => m.manifests.listReferrers(id, subject, artifactType),
    },
    tags: {
      ...m.tags,
      getTag: async () => {
        throw new Error('tag table on fire');
      },
      setTag: (id, name, digest) => m.tags.setTag(id, name, digest),
      deleteTag: (id, name) => m.tags.deleteTag(id, name),
      listTags: (id, page) => m.tags.listTags(id, page),
      tagHistory: (id, name) => m.tags.tagHistory(id, name),
    },
    garbage: m.garbage,
    ping: () => m.ping(),
    close: () => m.close(),
  };
}

describe('createApp request log', () => {
  const lines: Array<Record<string, unknown>> = [];
  let reg: TestRegistry;
  before(async () => {
    reg = await startTestRegistry({ logger: capturingLogger(lines), wrapMetadata: failingTags });
  });
  after(async () => {
    await reg?.close();
  });

  it('writes exactly one JSON line per request with method, url, status, bytes, duration and client', async () => {
    const image = await seededImage(reg.metadata, 'log/app');
    lines.length = 0;
    const put = await putManifest(reg.url, 'log/app', image.digest, image.bytes);
    assert.equal(put.status, 201);
    const get = await fetch(`${reg.url}/v2/log/app/manifests/${image.digest}?x=1`);
    assert.equal(get.status, 200);
    await get.arrayBuffer();
    const head = await fetch(`${reg.url}/v2/log/app/manifests/${image.digest}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const missing = await fetch(`${reg.url}/v2/log/app/nothing/here`);
    assert.equal(missing.status, 404);
    const missingBody = await missing.text();
    const health = await fetch(`${reg.url}/health/instance`);
    await health.arrayBuffer();
    // A URL Fastify cannot decode is answered before routing; it is still logged once.
    const badUrl = await fetch(`${reg.url}/v2/log/app/manifests/bad%ZZ`);
    assert.equal(badUrl.status, 400);
    await badUrl.arrayBuffer();

    // onResponse runs just after the response is finished: wait for the sixth line, then check there are no more.
    await waitUntil('six request lines', () => requestLines(lines).length >= 6);
    assert.equal(lines.length, 6, JSON.stringify(lines));
    const logged = requestLines(lines);
    assert.deepEqual(
      logged.map((l) => [l.method, l.url, l.status]),
      [
        ['PUT', `/v2/log/app/manifests/${image.digest}`, 201],
        ['GET', `/v2/log/app/manifests/${image.digest}?x=1`, 200],
        ['HEAD', `/v2/log/app/manifests/${image.digest}`, 200],
        ['GET', '/v2/log/app/nothing/here', 404],
        ['GET', '/health/instance', 200],
        ['GET', '/v2/log/app/manifests/bad%ZZ', 400],
      ],
    );
    for (const line of logged) {
      assert.equal(line.client, '127.0.0.1');
      assert.equal(typeof line.durationMs, 'number');
      assert.ok((line.durationMs as number) >= 0);
    }
    assert.equal(logged[0]?.bytes, 0);
    assert.equal(logged[1]?.bytes, image.bytes.length);
    assert.equal(logged[2]?.bytes, 0);
    assert.equal(logged[3]?.bytes, Buffer.byteLength(missingBody));
  });

  it('logs an unexpected error once, with the error, while the client sees only INTERNAL', async () => {
    const image = await seededImage(reg.metadata, 'log/broken');
    assert.equal((await putManifest(reg.url, 'log/broken', image.digest, image.bytes)).status, 201);
    lines.length = 0;
    const res = await fetch(`${reg.url}/v2/log/broken/manifests/latest`);
    assert.equal(res.status, 500);
    const body = await res.text();
    assert.ok(!body.includes('fire'));
    await waitUntil('the request line', () => lines.length >= 1);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    const line = lines[0] ?? {};
    assert.equal(line.status, 500);
    assert.equal(line.level, 50);
    const err = line.err as { message?: string; stack?: string } | undefined;
    assert.equal(err?.message, 'tag table on fire');
    assert.ok(typeof err?.stack === 'string', 'the log keeps the stack the response hides');
  });
});

describe('graceful drain', () => {
  // The test's own timeout is far below Fastify's 72 s keep-alive timeout: a close() that waited for it fails.
  it('lets an in-flight keep-alive response finish, then close() ends the connection instead of waiting for the keep-alive timeout', { timeout: 45_000 }, async () => {
    const registry = await startTestRegistry();
    const body = Buffer.alloc(8 * 1024 * 1024, 7);
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    const pushed = await fetch(`${registry.url}/v2/drain/app/blobs/uploads/?digest=${digest}`, { method: 'POST', body });
    assert.equal(pushed.status, 201);

    const agent = new Agent({ keepAlive: true });
    // The response is held (paused) until close() has begun, so that close() starts while it is in flight.
    const response = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = request(`${registry.url}/v2/drain/app/blobs/${digest}`, { agent }, (res) => {
        res.pause();
        resolve(res);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(response.statusCode, 200);
    const socket = response.socket;
    const socketClosed = once(socket, 'close');
    const closing = registry.close();
    // Fastify's close has begun once the listener stops accepting.
    await waitUntil('the server to stop listening', () => !registry.app.server.listening);
    let received = 0;
    response.on('data', (chunk: Buffer) => (received += chunk.length));
    response.resume();
    await once(response, 'end');
    assert.equal(received, body.length, 'the in-flight response was cut short');
    // The server ends the keep-alive connection after its response, so close() returns.
    await socketClosed;
    await closing;
    agent.destroy();
  });
});
