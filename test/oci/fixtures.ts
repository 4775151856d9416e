import { computeDigest, sha256Digest } from '../../src/oci/digest.js';
import {
  DOCKER_CONFIG,
  DOCKER_LAYER_GZIP,
  DOCKER_MANIFEST_LIST,
  DOCKER_MANIFEST_V2,
  OCI_EMPTY,
  OCI_IMAGE_CONFIG,
  OCI_IMAGE_INDEX,
  OCI_IMAGE_LAYER_GZIP,
  OCI_IMAGE_MANIFEST,
} from '../../src/oci/media-types.js';

/** Shared manifest fixtures for the oci tests: real digests of small made-up contents. */

export const CONFIG_DIGEST = sha256Digest('config');
export const LAYER1_DIGEST = sha256Digest('layer one');
export const LAYER2_DIGEST = sha256Digest('layer two');
export const CHILD1_DIGEST = sha256Digest('child one');
export const CHILD2_DIGEST = computeDigest('sha512', 'child two');
export const SUBJECT_DIGEST = sha256Digest('subject');
export const EMPTY_DIGEST = sha256Digest('{}');

/** A JSON value built fresh each call so tests can mutate it freely. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A valid OCI image manifest with two layers. */
export function ociImage(): { [key: string]: Json } {
  return {
    schemaVersion: 2,
    mediaType: OCI_IMAGE_MANIFEST,
    config: { mediaType: OCI_IMAGE_CONFIG, digest: CONFIG_DIGEST, size: 6 },
    layers: [
      { mediaType: OCI_IMAGE_LAYER_GZIP, digest: LAYER1_DIGEST, size: 9 },
      { mediaType: OCI_IMAGE_LAYER_GZIP, digest: LAYER2_DIGEST, size: 9 },
    ],
    annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
  };
}

/** A valid OCI artifact: empty config, empty layers, artifactType and subject. */
export function ociArtifact(): { [key: string]: Json } {
  return {
    schemaVersion: 2,
    mediaType: OCI_IMAGE_MANIFEST,
    artifactType: 'application/vnd.example.sbom.v1+json',
    config: { mediaType: OCI_EMPTY, digest: EMPTY_DIGEST, size: 2, data: 'e30=' },
    layers: [],
    subject: { mediaType: OCI_IMAGE_MANIFEST, digest: SUBJECT_DIGEST, size: 1234 },
  };
}

/** A valid OCI index with two platform children. */
export function ociIndex(): { [key: string]: Json } {
  return {
    schemaVersion: 2,
    mediaType: OCI_IMAGE_INDEX,
    manifests: [
      { mediaType: OCI_IMAGE_MANIFEST, digest: CHILD1_DIGEST, size: 500, platform: { architecture: 'amd64', os: 'linux' } },
      {
        mediaType: OCI_IMAGE_MANIFEST,
        digest: CHILD2_DIGEST,
        size: 501,
        platform: { architecture: 'arm64', os: 'linux', variant: 'v8', 'os.features': [], features: ['sse4'] },
      },
    ],
  };
}

/** A valid Docker schema 2 image manifest. */
export function dockerImage(): { [key: string]: Json } {
  return {
    schemaVersion: 2,
    mediaType: DOCKER_MANIFEST_V2,
    config: { mediaType: DOCKER_CONFIG, digest: CONFIG_DIGEST, size: 6 },
    layers: [{ mediaType: DOCKER_LAYER_GZIP, digest: LAYER1_DIGEST, size: 9 }],
  };
}

/** A valid Docker manifest list. */
export function dockerList(): { [key: string]: Json } {
  return {
    schemaVersion: 2,
    mediaType: DOCKER_MANIFEST_LIST,
    manifests: [{ mediaType: DOCKER_MANIFEST_V2, digest: CHILD1_DIGEST, size: 500, platform: { architecture: 'amd64', os: 'linux' } }],
  };
}

/** Bytes of a JSON value. */
export function bytes(value: Json, space?: number): Buffer {
  return Buffer.from(JSON.stringify(value, null, space), 'utf8');
}
