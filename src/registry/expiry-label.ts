import type { Descriptor } from '../oci/descriptor.js';
import { DOCKER_CONFIG, OCI_IMAGE_CONFIG } from '../oci/media-types.js';
import { parseQuayDuration } from '../gc/duration.js';
import { BlobNotFoundError, type BlobReader } from '../storage/blob-store.js';

/**
 * The `quay.expires-after` label (docs/tag-expiration.md): an image whose config carries it, e.g.
 * `LABEL quay.expires-after=2w`, gets tags that expire that long after they were pushed, as Quay does.
 */
export const EXPIRY_LABEL = 'quay.expires-after';

/** Configs larger than this are not read for labels (real ones are a few KiB; the history can make them larger). */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Seconds of the label in an image config's bytes; null when absent, zero or not a duration (Quay ignores a
 * value it cannot read rather than refusing the push).
 */
export function expiryLabelSeconds(configBytes: Buffer): number | null {
  let document: unknown;
  try {
    document = JSON.parse(configBytes.toString('utf8'));
  } catch {
    return null;
  }
  const labels = isObject(document) && isObject(document.config) ? document.config.Labels : undefined;
  const value = isObject(labels) ? labels[EXPIRY_LABEL] : undefined;
  if (typeof value !== 'string') return null;
  const ms = parseQuayDuration(value);
  return ms === undefined || ms === 0 ? null : ms / 1000;
}

/** The label of an image manifest's config, read from storage; null for anything that is not an image config. */
export async function readExpiryLabel(blobs: BlobReader, config: Descriptor | undefined): Promise<number | null> {
  if (config === undefined || (config.mediaType !== OCI_IMAGE_CONFIG && config.mediaType !== DOCKER_CONFIG)) return null;
  if (config.size > MAX_CONFIG_BYTES) return null;
  let stream;
  try {
    stream = await blobs.read(config.digest);
  } catch (error) {
    // Linked but not in storage: the labels cannot be known, and refusing the push is not this reader's call.
    if (error instanceof BlobNotFoundError) return null;
    throw error;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    total += buffer.length;
    if (total > MAX_CONFIG_BYTES) {
      stream.destroy();
      return null;
    }
    chunks.push(buffer);
  }
  return expiryLabelSeconds(Buffer.concat(chunks, total));
}
