import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Metadata } from '../../src/db/metadata.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';
import { putManifest, seededImage } from '../registry/manifest-fixtures.js';

/** A pino logger whose JSON lines land in `lines`. */
function capturingLogger(lines: Array<Record<string, unknown>>) {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return pino({ level: 'info' }, sink);
}

/** Metadata whose tag lookups fail unexpectedly. */
function failingTags(m: Metadata): Metadata {
  return {
    repositories: m.repositories,
    blobs: m.blobs,
    uploads: m.uploads,
    manifests: {
      putManifest: (id, manifest) => m.manifests.putManifest(id, manifest),
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
    ping: () => m.ping(),
    close: () => m.close(),
  };
}

/** Lines logged for requests (the access log), in order. */
function requestLines(lines: Array<Record<string, unknown>>) {
  return lines.filter((l) => typeof l.method === 'string' && typeof l.status === 'number');
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

    // onResponse runs just after the response is finished; give it a moment on a busy machine.
    for (let i = 0; i < 50 && requestLines(lines).length < 6; i += 1) await new Promise((r) => setTimeout(r, 20));
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
    for (let i = 0; i < 50 && lines.length < 1; i += 1) await new Promise((r) => setTimeout(r, 20));
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
  it('lets an in-flight keep-alive response finish, then close() returns without waiting for the keep-alive timeout', async () => {
    const registry = await startTestRegistry();
    const { request } = await import('node:http');
    const { createHash } = await import('node:crypto');
    const body = Buffer.alloc(8 * 1024 * 1024, 7);
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    const pushed = await fetch(`${registry.url}/v2/drain/app/blobs/uploads/?digest=${digest}`, { method: 'POST', body });
    assert.equal(pushed.status, 201);

    const agent = new (await import('node:http')).Agent({ keepAlive: true });
    let received = 0;
    const pulled = new Promise<number>((resolve, reject) => {
      const req = request(`${registry.url}/v2/drain/app/blobs/${digest}`, { agent }, (res) => {
        // Read slowly at first so that close() starts while the response is in flight.
        res.pause();
        setTimeout(() => res.resume(), 300);
        res.on('data', (chunk: Buffer) => (received += chunk.length));
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await registry.close();
    const closeMs = Date.now() - started;
    assert.equal(await pulled, 200);
    assert.equal(received, body.length, 'the in-flight response was cut short');
    // Without the drain hook close() waits for Node's keep-alive timeout (about 72 s in Fastify).
    assert.ok(closeMs < 20_000, `close() took ${closeMs} ms`);
    agent.destroy();
  });
});
