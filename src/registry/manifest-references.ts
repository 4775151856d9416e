import type { RepositoryRecord } from '../db/metadata.js';
import { LOOKUP_BATCH_SIZE } from '../db/lookup-batches.js';
import { ManifestError } from '../oci/descriptor.js';
import { DEFAULT_MANIFEST_LIMITS, parseManifest, type ManifestLimits, type ParsedManifest } from '../oci/manifest.js';
import type { RegistryDeps, RegistryOptions } from './context.js';
import { RegistryError } from './errors.js';
import { Turns } from './turns.js';

/**
 * The check that a pushed manifest's content is already in the repository, with bounded work: the
 * descriptor count is capped when parsing (see manifestLimitsOf), and the references are looked up in
 * batches, one query per kind and batch, one batch at a time, stopping at the first batch with a gap.
 * So a manifest that names thousands of unknown digests costs a few queries on one pool connection,
 * not thousands of parallel queries that starve every other request of the instance. Large manifests are
 * also parsed and checked one at a time per instance, so several heavy pushes at once delay a bystander's
 * request by one parse, not by all of them.
 */

/** Manifests at least this large take their turn (the common image manifest is a few KiB). */
const HEAVY_MANIFEST_BYTES = 64 * 1024;

// One queue per application (its deps object), not per process import.
const heavyTurns = new WeakMap<RegistryDeps, Turns>();

function turnsOf(deps: RegistryDeps): Turns {
  let turns = heavyTurns.get(deps);
  if (turns === undefined) {
    turns = new Turns();
    heavyTurns.set(deps, turns);
  }
  return turns;
}

/** The descriptor caps of the options, or the defaults. */
export function manifestLimitsOf(options: RegistryOptions): ManifestLimits {
  return options.manifestLimits ?? DEFAULT_MANIFEST_LIMITS;
}

function parseBody(bytes: Buffer, contentType: string | undefined, limits: ManifestLimits): ParsedManifest {
  try {
    return parseManifest(bytes, contentType, limits);
  } catch (error) {
    if (error instanceof ManifestError) throw new RegistryError(error.code, undefined, error.message);
    throw error;
  }
}

/**
 * Parses a pushed manifest's bytes (within the descriptor caps) and checks that everything it references is in
 * the repository `name`; the parsed manifest, or the RegistryError to answer.
 */
export async function parseCheckedManifest(
  deps: RegistryDeps,
  name: string,
  bytes: Buffer,
  contentType: string | undefined,
): Promise<ParsedManifest> {
  const check = async (): Promise<ParsedManifest> => {
    const parsed = parseBody(bytes, contentType, manifestLimitsOf(deps.options));
    await checkReferences(deps, await deps.metadata.repositories.getRepository(name), parsed);
    return parsed;
  };
  return bytes.length >= HEAVY_MANIFEST_BYTES ? turnsOf(deps).run(check) : check();
}

/** Every referenced blob must be linked in the repository and every child manifest present in it. */
async function checkReferences(
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
