import type { ManifestSummary } from '../db/metadata.js';
import { OCI_IMAGE_INDEX } from '../oci/media-types.js';
import type { RouteHandler } from './context.js';
import { queryOf } from './url.js';

/** A referrer as the referrers API lists it. */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** The descriptor of one referring manifest; absent fields are left out rather than null. */
export function referrerDescriptor(manifest: ManifestSummary): ReferrerDescriptor {
  const descriptor: ReferrerDescriptor = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size };
  if (manifest.artifactType !== null) descriptor.artifactType = manifest.artifactType;
  if (manifest.annotations !== null && Object.keys(manifest.annotations).length > 0) {
    descriptor.annotations = manifest.annotations;
  }
  return descriptor;
}

/**
 * GET /v2/<name>/referrers/<digest>[?artifactType=]: an OCI image index of the manifests whose
 * subject is <digest>. An unknown repository or digest is an empty index, never a 404 (spec).
 * The router hides this route when FEATURE_REFERRERS_API is off.
 */
export const getReferrers: RouteHandler = async ({ deps, name, params, request, reply }) => {
  const subject = params.digest ?? '';
  const artifactType = queryOf(request.url).get('artifactType') ?? undefined;
  const filter = artifactType === '' ? undefined : artifactType;
  const repository = await deps.metadata.repositories.getRepository(name);
  const referrers =
    repository === undefined ? [] : await deps.metadata.manifests.listReferrers(repository.id, subject, filter);
  if (filter !== undefined) reply.header('OCI-Filters-Applied', 'artifactType');
  await reply
    .code(200)
    .header('Content-Type', OCI_IMAGE_INDEX)
    // A Buffer keeps the Content-Type exactly as the spec gives it (Fastify adds a charset to JSON strings).
    .send(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_IMAGE_INDEX, manifests: referrers.map(referrerDescriptor) })));
};
