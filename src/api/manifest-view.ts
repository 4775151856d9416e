import type { ManifestIndex, ManifestRecord } from '../db/metadata.js';

/**
 * What the UI shows of a stored manifest, read from its bytes (which were validated on push): the
 * compressed size of an image (config plus layers, what a pull downloads), and the platforms of an index.
 */

/** One entry of an index. */
export interface ChildManifest {
  digest: string;
  mediaType: string | null;
  platform: { os?: string; architecture?: string; variant?: string } | null;
}

export type ManifestShape = { kind: 'image'; size: number } | { kind: 'index'; children: ChildManifest[] } | { kind: 'other' };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sizeOf(descriptor: unknown): number {
  return isObject(descriptor) && typeof descriptor.size === 'number' && descriptor.size >= 0 ? descriptor.size : 0;
}

function platformOf(value: unknown): ChildManifest['platform'] {
  if (!isObject(value)) return null;
  const pick = (key: string) => (typeof value[key] === 'string' ? (value[key] as string) : undefined);
  return { os: pick('os'), architecture: pick('architecture'), variant: pick('variant') };
}

/** Reads the shape of manifest bytes; anything unreadable is "other", never an error. */
export function manifestShape(bytes: Buffer): ManifestShape {
  let document: unknown;
  try {
    document = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { kind: 'other' };
  }
  if (!isObject(document)) return { kind: 'other' };
  if (Array.isArray(document.manifests)) {
    const children = document.manifests.filter(isObject).flatMap((entry) =>
      typeof entry.digest === 'string'
        ? [{ digest: entry.digest, mediaType: typeof entry.mediaType === 'string' ? entry.mediaType : null, platform: platformOf(entry.platform) }]
        : [],
    );
    return { kind: 'index', children };
  }
  if (Array.isArray(document.layers)) {
    return { kind: 'image', size: sizeOf(document.config) + document.layers.reduce<number>((sum, layer) => sum + sizeOf(layer), 0) };
  }
  return { kind: 'other' };
}

/**
 * The size a pull of this manifest downloads: an image's config and layers; an index's images summed (those
 * of its children stored in the repository). null when unknown.
 */
export async function manifestDownloadSize(manifests: ManifestIndex, manifest: ManifestRecord): Promise<number | null> {
  const shape = manifestShape(manifest.bytes);
  if (shape.kind === 'image') return shape.size;
  if (shape.kind === 'other') return null;
  let total = 0;
  for (const child of shape.children) {
    const record = await manifests.getManifest(manifest.repositoryId, child.digest);
    const childShape = record === undefined ? undefined : manifestShape(record.bytes);
    if (childShape?.kind === 'image') total += childShape.size;
  }
  return total;
}
