import { isValidDigest } from '../oci/digest.js';
import type { ContextByAccess } from './access.js';
import { ok } from './context.js';
import { badRequest, notFound } from './errors.js';
import { manifestShape } from './manifest-view.js';
import type { RepositoryPath } from './paths.js';
import type { RepositoryRouteTable } from './repository-routes.js';

/**
 * GET /repository/{repo}/manifest/{digest}: one manifest of the repository in Quay's shape (the UI reads the
 * platforms of an index from it and the size of each image), plus our `size` and `children` so that a
 * client need not parse manifest_data itself.
 */

function digestOf(path: RepositoryPath): string {
  const resource = path.resource;
  if (resource.kind !== 'manifest') throw notFound();
  if (resource.digest.length > 200 || !isValidDigest(resource.digest)) {
    throw badRequest(`invalid digest ${JSON.stringify(resource.digest.slice(0, 200))}: expected sha256:<64 hex digits>`);
  }
  return resource.digest;
}

async function manifestHandler(ctx: ContextByAccess['repository:read'], path: RepositoryPath) {
  const digest = digestOf(path);
  const manifest = await ctx.services.metadata.manifests.getManifest(ctx.repository.id, digest);
  if (manifest === undefined) throw notFound(`manifest ${digest} not found in this repository`);
  const shape = manifestShape(manifest.bytes);
  const children =
    shape.kind !== 'index'
      ? null
      : await Promise.all(
          shape.children.map(async (child) => {
            const record = await ctx.services.metadata.manifests.getManifest(ctx.repository.id, child.digest);
            const childShape = record === undefined ? undefined : manifestShape(record.bytes);
            return { digest: child.digest, media_type: child.mediaType, platform: child.platform, size: childShape?.kind === 'image' ? childShape.size : null };
          }),
        );
  return ok({
    digest: manifest.digest,
    is_manifest_list: shape.kind === 'index',
    manifest_data: manifest.bytes.toString('utf8'),
    media_type: manifest.mediaType,
    layers_compressed_size: shape.kind === 'image' ? shape.size : null,
    size: shape.kind === 'image' ? shape.size : children === null ? null : children.reduce((sum, child) => sum + (child.size ?? 0), 0),
    children,
  });
}

export const manifestRoutes: RepositoryRouteTable = {
  'GET manifest': { access: 'repository:read', handler: manifestHandler },
};
