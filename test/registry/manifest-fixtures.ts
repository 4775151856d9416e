// Raw manifest buffers and small HTTP helpers for the /v2 API tests. Digests are computed with node:crypto here,
// independently of the code under test.
import { createHash, randomBytes } from 'node:crypto';
import type { Metadata } from '../../src/db/metadata.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

/** sha256:<hex> of the bytes. */
export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

export function descriptorOf(mediaType: string, bytes: Buffer, extra: Partial<Desc> = {}): Desc {
  return { mediaType, digest: sha256(bytes), size: bytes.length, ...extra };
}

/** Records a blob and links it into the repository (creating it), as a finished upload would. */
export async function seedBlob(metadata: Metadata, repository: string, bytes: Buffer): Promise<string> {
  const repo = await metadata.repositories.ensureRepository(repository);
  const digest = sha256(bytes);
  await metadata.blobs.recordBlob(digest, bytes.length);
  await metadata.blobs.linkBlob(repo.id, digest);
  return digest;
}

export interface ImageParts {
  config: Desc;
  layers: Desc[];
  subject?: Desc;
  artifactType?: string;
  annotations?: Record<string, string>;
  mediaType?: string;
}

/** The bytes of an image manifest, with deliberately unusual whitespace so byte-exact storage is visible. */
export function imageManifest(parts: ImageParts): Buffer {
  const body: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: parts.mediaType ?? OCI_MANIFEST,
    config: parts.config,
    layers: parts.layers,
  };
  if (parts.artifactType !== undefined) body.artifactType = parts.artifactType;
  if (parts.subject !== undefined) body.subject = parts.subject;
  if (parts.annotations !== undefined) body.annotations = parts.annotations;
  return Buffer.from(`${JSON.stringify(body, null, 3)}\n`);
}

/** The bytes of an OCI image index over the given children. */
export function indexManifest(children: Desc[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: children, ...extra }));
}

export interface SeededImage {
  bytes: Buffer;
  digest: string;
  config: Desc;
  layer: Desc;
}

/** Seeds a random config and layer into the repository and returns an image manifest over them (not pushed). */
export async function seededImage(
  metadata: Metadata,
  repository: string,
  extra: Omit<Partial<ImageParts>, 'config' | 'layers'> & { configMediaType?: string } = {},
): Promise<SeededImage> {
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') }));
  const layerBytes = randomBytes(64);
  await seedBlob(metadata, repository, configBytes);
  await seedBlob(metadata, repository, layerBytes);
  const config = descriptorOf(extra.configMediaType ?? OCI_CONFIG, configBytes);
  const layer = descriptorOf(OCI_LAYER, layerBytes);
  const { configMediaType: _ignored, ...parts } = extra;
  const bytes = imageManifest({ config, layers: [layer], ...parts });
  return { bytes, digest: sha256(bytes), config, layer };
}

/** PUT a manifest through HTTP. */
export function putManifest(
  url: string,
  repository: string,
  reference: string,
  bytes: Buffer,
  contentType: string = OCI_MANIFEST,
): Promise<Response> {
  return fetch(`${url}/v2/${repository}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'content-type': contentType },
    body: Uint8Array.from(bytes),
  });
}

/** The OCI error codes of a response body (consumes it). */
export async function errorCodes(response: Response): Promise<string[]> {
  const body = (await response.json()) as { errors?: Array<{ code: string }> };
  if (!Array.isArray(body.errors)) throw new Error(`not an OCI error body: ${JSON.stringify(body)}`);
  return body.errors.map((e) => e.code);
}

/** The first OCI error of a response body (consumes it). */
export async function firstError(response: Response): Promise<{ code: string; message: string; detail?: unknown }> {
  const body = (await response.json()) as { errors?: Array<{ code: string; message: string; detail?: unknown }> };
  const first = body.errors?.[0];
  if (first === undefined) throw new Error(`not an OCI error body: ${JSON.stringify(body)}`);
  return first;
}

/** The dialects every data-touching API test runs on. */
export { ALL_DIALECTS as DIALECTS } from '../helpers/databases.js';
