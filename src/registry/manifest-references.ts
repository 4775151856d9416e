import type { RepositoryRecord } from '../db/metadata.js';
import { LOOKUP_BATCH_SIZE } from '../db/lookup-batches.js';
import { DEFAULT_MANIFEST_LIMITS, type ManifestLimits, type ParsedManifest } from '../oci/manifest.js';
import type { RegistryDeps, RegistryOptions } from './context.js';
import { RegistryError } from './errors.js';

/**
 * The check that a pushed manifest's content is already in the repository, with bounded work: the
 * descriptor count is capped when parsing (see manifestLimitsOf), and the references are looked up in
 * batches, one query per kind and batch, one batch at a time, stopping at the first batch with a gap.
 * So a manifest that names thousands of unknown digests costs a few queries on one pool connection,
 * not thousands of parallel queries that starve every other request of the instance.
 */

/** The descriptor caps of the options, or the defaults. */
export function manifestLimitsOf(options: RegistryOptions): ManifestLimits {
  return options.manifestLimits ?? DEFAULT_MANIFEST_LIMITS;
}

/** Every referenced blob must be linked in the repository and every child manifest present in it. */
export async function checkReferences(
  deps: RegistryDeps,
  repository: RepositoryRecord | undefined,
  parsed: ParsedManifest,
): Promise<void> {
  // parseManifest leaves the subject out of references: it may be pushed later, or never.
  const references = parsed.references;
  if (references.length === 0) return;
  if (repository === undefined) {
    throw new RegistryError('MANIFEST_BLOB_UNKNOWN', undefined, { digest: references[0]?.digest });
  }
  for (let start = 0; start < references.length; start += LOOKUP_BATCH_SIZE) {
    const batch = references.slice(start, start + LOOKUP_BATCH_SIZE);
    const blobs = batch.filter((r) => r.kind === 'blob').map((r) => r.digest);
    const children = batch.filter((r) => r.kind === 'manifest').map((r) => r.digest);
    const linked = blobs.length > 0 ? await deps.metadata.blobs.linkedDigests(repository.id, blobs) : new Set<string>();
    const present = children.length > 0 ? await deps.metadata.manifests.presentManifests(repository.id, children) : new Set<string>();
    // The first missing one in manifest order, as a client reading the error expects.
    const missing = batch.find((r) => !(r.kind === 'blob' ? linked : present).has(r.digest));
    if (missing !== undefined) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', undefined, { digest: missing.digest });
  }
}
