import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManifestError } from '../../src/oci/descriptor.js';
import { DEFAULT_MANIFEST_LIMITS, parseManifest } from '../../src/oci/manifest.js';
import { OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST } from '../../src/oci/media-types.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const layer = (n: number) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest(n), size: n });

function image(layers: number): Buffer {
  const body = {
    schemaVersion: 2,
    mediaType: OCI_IMAGE_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(0), size: 2 },
    layers: Array.from({ length: layers }, (_, i) => layer(i + 1)),
  };
  return Buffer.from(JSON.stringify(body));
}

function index(children: number): Buffer {
  const manifests = Array.from({ length: children }, (_, i) => ({
    mediaType: OCI_IMAGE_MANIFEST,
    digest: digest(i + 1),
    size: 100,
    platform: { architecture: 'amd64', os: 'linux' },
  }));
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_IMAGE_INDEX, manifests }));
}

function refusal(run: () => unknown): ManifestError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ManifestError, `expected a ManifestError, got ${String(error)}`);
    return error;
  }
  assert.fail('the manifest was accepted');
}

describe('descriptor caps', () => {
  it('accepts an image at the default layer cap and refuses one layer more, naming the count and the cap', () => {
    assert.equal(parseManifest(image(DEFAULT_MANIFEST_LIMITS.maxLayers), OCI_IMAGE_MANIFEST).layers.length, 1000);
    const error = refusal(() => parseManifest(image(1001), OCI_IMAGE_MANIFEST));
    assert.equal(error.code, 'MANIFEST_INVALID');
    assert.match(error.message, /layers has 1001 entries; this registry accepts at most 1000/);
  });

  it('refuses an index above the default child cap', () => {
    assert.equal(parseManifest(index(DEFAULT_MANIFEST_LIMITS.maxIndexManifests), OCI_IMAGE_INDEX).manifests.length, 10_000);
    const error = refusal(() => parseManifest(index(20_000), OCI_IMAGE_INDEX));
    assert.equal(error.code, 'MANIFEST_INVALID');
    assert.match(error.message, /manifests has 20000 entries; this registry accepts at most 10000/);
  });

  it('counts before validating entries, so an oversized list of garbage is refused for its size', () => {
    const body = { schemaVersion: 2, mediaType: OCI_IMAGE_MANIFEST, config: layer(0), layers: Array.from({ length: 5 }, () => 'not a descriptor') };
    const error = refusal(() => parseManifest(Buffer.from(JSON.stringify(body)), OCI_IMAGE_MANIFEST, { maxLayers: 4, maxIndexManifests: 4 }));
    assert.match(error.message, /layers has 5 entries; this registry accepts at most 4/);
  });

  it('applies configured caps', () => {
    const limits = { maxLayers: 2, maxIndexManifests: 3 };
    assert.equal(parseManifest(image(2), OCI_IMAGE_MANIFEST, limits).layers.length, 2);
    refusal(() => parseManifest(image(3), OCI_IMAGE_MANIFEST, limits));
    assert.equal(parseManifest(index(3), OCI_IMAGE_INDEX, limits).manifests.length, 3);
    refusal(() => parseManifest(index(4), OCI_IMAGE_INDEX, limits));
  });
});
