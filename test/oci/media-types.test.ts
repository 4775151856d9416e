import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DOCKER_MANIFEST_LIST,
  DOCKER_MANIFEST_V1,
  DOCKER_MANIFEST_V1_SIGNED,
  DOCKER_MANIFEST_V2,
  MANIFEST_MEDIA_TYPES,
  OCI_EMPTY,
  OCI_IMAGE_INDEX,
  OCI_IMAGE_MANIFEST,
  bareMediaType,
  isIndexMediaType,
  isManifestMediaType,
  isSchema1MediaType,
  looksLikeMediaType,
} from '../../src/oci/media-types.js';

describe('media types', () => {
  it('lists exactly the four accepted manifest types', () => {
    assert.deepEqual([...MANIFEST_MEDIA_TYPES].sort(), [DOCKER_MANIFEST_LIST, DOCKER_MANIFEST_V2, OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST].sort());
    assert.equal(OCI_EMPTY, 'application/vnd.oci.empty.v1+json');
    assert.ok(Object.isFrozen(MANIFEST_MEDIA_TYPES));
  });

  it('isManifestMediaType is exact', () => {
    for (const t of MANIFEST_MEDIA_TYPES) assert.equal(isManifestMediaType(t), true);
    for (const t of [DOCKER_MANIFEST_V1, DOCKER_MANIFEST_V1_SIGNED, 'application/json', '', `${OCI_IMAGE_MANIFEST}; charset=utf-8`, OCI_IMAGE_MANIFEST.toUpperCase()]) {
      assert.equal(isManifestMediaType(t), false, t);
    }
  });

  it('classifies schema 1 and index types', () => {
    assert.equal(isSchema1MediaType(DOCKER_MANIFEST_V1), true);
    assert.equal(isSchema1MediaType(DOCKER_MANIFEST_V1_SIGNED), true);
    assert.equal(isSchema1MediaType(DOCKER_MANIFEST_V2), false);
    assert.equal(isIndexMediaType(OCI_IMAGE_INDEX), true);
    assert.equal(isIndexMediaType(DOCKER_MANIFEST_LIST), true);
    assert.equal(isIndexMediaType(OCI_IMAGE_MANIFEST), false);
  });

  it('bareMediaType strips parameters and whitespace and lower-cases', () => {
    assert.equal(bareMediaType(`${OCI_IMAGE_MANIFEST}; charset=utf-8`), OCI_IMAGE_MANIFEST);
    assert.equal(bareMediaType(`  ${OCI_IMAGE_INDEX.toUpperCase()} `), OCI_IMAGE_INDEX);
    assert.equal(bareMediaType(''), undefined);
    assert.equal(bareMediaType(' ; x=y'), undefined);
    assert.equal(bareMediaType(undefined), undefined);
  });

  it('looksLikeMediaType follows RFC 6838 names', () => {
    for (const t of ['application/vnd.cncf.helm.chart.content.v1.tar+gzip', 'text/plain', 'application/vnd.dev.sigstore.bundle.v0.3+json']) {
      assert.equal(looksLikeMediaType(t), true, t);
    }
    for (const t of ['', 'text', 'text/', '/plain', 'text/plain; charset=utf-8', 'a/b/c', 'text /plain', 'tëxt/plain', `${'a'.repeat(128)}/b`]) {
      assert.equal(looksLikeMediaType(t), false, t);
    }
  });
});
