// A blob HEAD (how clients decide to skip a layer's upload) and a mount's source read hold the link against
// garbage collection for the configured push grace period; a GET (a pull) only reads. The store's side of the
// hold is test/db/blob-hold.test.ts.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { BlobIndex, Metadata } from '../../src/db/metadata.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';

const GRACE_MS = 90_000;

describe('blob HEAD and mount hold the link for the push grace period', () => {
  let reg: TestRegistry;
  const calls: string[] = [];
  let digest: string;

  before(async () => {
    reg = await startTestRegistry({
      registry: { pushGraceMs: GRACE_MS },
      wrapMetadata: (metadata: Metadata): Metadata => ({
        ...metadata,
        blobs: new Proxy(metadata.blobs, {
          get(object, property, receiver) {
            const value: unknown = Reflect.get(object, property, receiver);
            if (typeof value !== 'function' || (property !== 'holdLinkedBlob' && property !== 'getLinkedBlob')) return value;
            return (...args: unknown[]) => {
              calls.push(`${String(property)}${property === 'holdLinkedBlob' ? ` ${String(args[2])}` : ''}`);
              return Reflect.apply(value, object, args) as unknown;
            };
          },
        }) as BlobIndex,
        ping: () => metadata.ping(),
        close: () => metadata.close(),
      }),
    });
    const data = randomBytes(100);
    digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const pushed = await fetch(`${reg.url}/v2/hold/src/blobs/uploads/?digest=${digest}`, { method: 'POST', body: new Uint8Array(data) });
    assert.equal(pushed.status, 201);
  });
  after(() => reg?.close());
  beforeEach(() => {
    calls.length = 0;
  });

  it('HEAD holds the link', async () => {
    assert.equal((await fetch(`${reg.url}/v2/hold/src/blobs/${digest}`, { method: 'HEAD' })).status, 200);
    assert.deepEqual(calls, [`holdLinkedBlob ${GRACE_MS}`]);
  });

  it('GET only reads it', async () => {
    const response = await fetch(`${reg.url}/v2/hold/src/blobs/${digest}`);
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    assert.deepEqual(calls, ['getLinkedBlob']);
  });

  it('a mount holds the source\'s link before linking the target', async () => {
    const mounted = await fetch(`${reg.url}/v2/hold/dst/blobs/uploads/?mount=${digest}&from=hold/src`, { method: 'POST' });
    assert.equal(mounted.status, 201);
    assert.deepEqual(calls, [`holdLinkedBlob ${GRACE_MS}`]);
    assert.equal((await fetch(`${reg.url}/v2/hold/dst/blobs/${digest}`, { method: 'HEAD' })).status, 200);
  });
});
