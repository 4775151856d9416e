// The small image the request-rate workloads read (registry-bench.ts, small-requests.ts).
import { createHash, randomBytes } from 'node:crypto';
import type { RegistryClient } from './registry-client.js';

/** Pushes a small image (config + one 4 KiB layer) tagged v1 plus 20 more tags, for the request-rate workloads. */
export async function seedSmallImage(client: RegistryClient, repository: string): Promise<{ layerDigest: string }> {
  const layer = randomBytes(4096);
  const layerDigest = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layerDigest] } }));
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  await client.pushSmall(repository, layer, layerDigest, false);
  await client.pushSmall(repository, config, configDigest, false);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  for (const tag of ['v1', ...Array.from({ length: 20 }, (_, i) => `t${String(i).padStart(3, '0')}`)]) {
    await client.putManifest(repository, tag, 'application/vnd.oci.image.manifest.v1+json', manifest);
  }
  return { layerDigest };
}
