// The soak test's images: a pool of layers that many images share, and images made of two shared layers, one
// layer of their own and a config of their own, kept in memory so a pull can be compared byte for byte. An image
// can be written as an OCI layout for skopeo to push.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MEDIA, sha256, tarOf } from '../helpers/oci-images.js';

export interface SoakBlob {
  digest: string;
  bytes: Buffer;
  mediaType: string;
}

/** A layer with the digest of its uncompressed tar (the config's diff_id). */
export type SoakLayer = SoakBlob & { diffId: string };

export interface SoakImage {
  digest: string;
  manifest: Buffer;
  /** The config first, then the layers. */
  blobs: SoakBlob[];
}

/** A gzipped one-file tar (a layer skopeo pushes as it is: it would compress an uncompressed one, changing the digests). */
function layer(size: number): SoakLayer {
  const tar = tarOf({ [`soak/${randomBytes(6).toString('hex')}.bin`]: randomBytes(size) });
  const bytes = gzipSync(tar);
  return { digest: sha256(bytes), bytes, mediaType: MEDIA.layerTarGzip, diffId: sha256(tar) };
}

/** `count` layers of `size` random bytes each (as one-file tars), shared by the images made from them. */
export function sharedLayers(count: number, size: number): SoakLayer[] {
  return Array.from({ length: count }, () => layer(size));
}

/** A new image: two layers picked from `shared`, one layer and a config of its own. */
export function newImage(shared: readonly SoakLayer[], ownLayerSize: number): SoakImage {
  const first = Math.floor(Math.random() * shared.length);
  const second = (first + 1 + Math.floor(Math.random() * (shared.length - 1))) % shared.length;
  const layers = [shared[first]!, shared[second]!, layer(ownLayerSize)];
  const configBytes = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Labels: { 'soak.image': randomBytes(8).toString('hex') } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  }));
  const config: SoakBlob = { digest: sha256(configBytes), bytes: configBytes, mediaType: MEDIA.config };
  const descriptor = (blob: SoakBlob) => ({ mediaType: blob.mediaType, digest: blob.digest, size: blob.bytes.length });
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: descriptor(config),
    layers: layers.map(descriptor),
  }));
  return { digest: sha256(manifest), manifest, blobs: [config, ...layers] };
}

/** Writes `image` as an OCI layout in `dir` with the one tag `tag` (what `skopeo copy oci:<dir>:<tag>` reads). */
export async function writeLayout(dir: string, image: SoakImage, tag: string): Promise<void> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  for (const blob of [...image.blobs, { digest: image.digest, bytes: image.manifest }]) {
    await writeFile(join(blobs, blob.digest.slice('sha256:'.length)), blob.bytes);
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [{ mediaType: MEDIA.manifest, digest: image.digest, size: image.manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
}
