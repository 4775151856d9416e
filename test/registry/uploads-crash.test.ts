// The states a crash leaves an upload in, made directly in storage (the kill itself is in
// test/faults/upload-crash.test.ts): bytes beyond the recorded size, and a row whose object is gone.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function errorCode(response: Response): Promise<string | undefined> {
  const body = (await response.json()) as { errors?: Array<{ code?: string }> };
  return body.errors?.[0]?.code;
}

describe('uploads after a crash', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry();
  });
  after(async () => registry?.close());

  const url = (path: string) => new URL(path, registry.url).toString();
  async function start(name: string): Promise<{ location: string; id: string }> {
    const response = await fetch(url(`/v2/${name}/blobs/uploads/`), { method: 'POST' });
    assert.equal(response.status, 202);
    const location = response.headers.get('location') as string;
    return { location, id: location.split('/').pop() as string };
  }
  const patch = (location: string, body: Buffer, start: number) =>
    fetch(url(location), { method: 'PATCH', body: new Uint8Array(body), headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${start + body.length - 1}` } });
  const put = (location: string, digest: string) => fetch(url(`${location}?digest=${digest}`), { method: 'PUT' });

  it('cuts off bytes an interrupted chunk left beyond the recorded size, in any later chunk', async () => {
    const data = randomBytes(3000);
    const { location, id } = await start('crash/extra');
    assert.equal((await patch(location, data.subarray(0, 1000), 0)).status, 202);
    // What a kill mid-chunk leaves: bytes in the object that the database never recorded.
    await registry.blobs.appendUpload(id, 1000, Readable.from([randomBytes(700)]));
    const status = await fetch(url(location));
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-999');
    const resumed = await patch(location, data.subarray(1000, 2000), 1000);
    assert.equal(resumed.status, 202, await resumed.text());
    assert.equal(resumed.headers.get('range'), '0-1999');
    // Once more, before the completing PUT (which has no body).
    await registry.blobs.appendUpload(id, 2000, Readable.from([randomBytes(50)]));
    assert.equal((await patch(location, data.subarray(2000), 2000)).status, 202);
    await registry.blobs.appendUpload(id, 3000, Readable.from([randomBytes(10)]));
    const done = await put(location, sha256(data));
    assert.equal(done.status, 201, await done.text());
    const pulled = await fetch(url(`/v2/crash/extra/blobs/${sha256(data)}`));
    assert.deepEqual(Buffer.from(await pulled.arrayBuffer()), data);
  });

  it('answers BLOB_UPLOAD_UNKNOWN (404) for a row whose object is gone', async () => {
    const { location, id } = await start('crash/gone');
    assert.equal((await patch(location, randomBytes(100), 0)).status, 202);
    await registry.blobs.abortUpload(id);
    const chunk = await patch(location, randomBytes(100), 100);
    assert.equal(chunk.status, 404);
    assert.equal(await errorCode(chunk), 'BLOB_UPLOAD_UNKNOWN');
    const done = await put(location, sha256(randomBytes(10)));
    assert.equal(done.status, 404);
    assert.equal(await errorCode(done), 'BLOB_UPLOAD_UNKNOWN');
  });

  it('completes on PUT when the object was already moved to its address (a kill before the blob row)', async () => {
    const data = randomBytes(5000);
    const { location, id } = await start('crash/moved');
    assert.equal((await patch(location, data, 0)).status, 202);
    await registry.blobs.commitUpload(id, sha256(data));
    const wrongDigest = await put(location, sha256(randomBytes(5000)));
    assert.equal(wrongDigest.status, 404, 'another digest is not this upload');
    const done = await put(location, sha256(data));
    assert.equal(done.status, 201, await done.text());
    const pulled = await fetch(url(`/v2/crash/moved/blobs/${sha256(data)}`));
    assert.equal(pulled.status, 200);
    assert.deepEqual(Buffer.from(await pulled.arrayBuffer()), data);
    assert.equal((await fetch(url(location))).status, 404, 'the upload is finished');
  });
});
