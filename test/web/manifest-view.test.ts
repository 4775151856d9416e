// What the UI is told about a manifest (src/api/manifest-view.ts): an image's download size, an index's
// platforms, and nothing thrown for bytes it cannot read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manifestShape } from '../../src/api/manifest-view.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

test('an image manifest is sized as its config plus its layers', () => {
  const shape = manifestShape(json({ schemaVersion: 2, config: { digest: 'sha256:c', size: 100 }, layers: [{ size: 1000 }, { size: 24 }] }));
  assert.deepEqual(shape, { kind: 'image', size: 1124 });
});

test('an index lists its children with their platforms', () => {
  const shape = manifestShape(
    json({
      schemaVersion: 2,
      manifests: [
        { digest: 'sha256:a', mediaType: 'application/vnd.oci.image.manifest.v1+json', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { digest: 'sha256:b' },
        { nodigest: true },
      ],
    }),
  );
  assert.deepEqual(shape, {
    kind: 'index',
    children: [
      { digest: 'sha256:a', mediaType: 'application/vnd.oci.image.manifest.v1+json', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { digest: 'sha256:b', mediaType: null, platform: null },
    ],
  });
});

test('unreadable or unknown bytes are "other", never an error', () => {
  for (const bytes of [Buffer.from('not json'), json([1, 2]), json({ schemaVersion: 1, fsLayers: [] }), json(null)]) {
    assert.deepEqual(manifestShape(bytes), { kind: 'other' });
  }
  assert.deepEqual(manifestShape(json({ layers: [{ size: -5 }, { size: 'big' }] })), { kind: 'image', size: 0 });
});
