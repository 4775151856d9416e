// A small image manifest stored straight through the metadata interface, for data-access tests that need a
// manifest row (its bytes are a stand-in: nothing parses them).
import type { ManifestRecord, Metadata } from '../../src/db/metadata.js';

/** The digest the nth test manifest is stored under. */
export const testDigest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

/** Stores the nth test manifest in the repository and returns its row. */
export async function putTestManifest(metadata: Metadata, repositoryId: number, n: number): Promise<ManifestRecord> {
  return metadata.manifests.putManifest(repositoryId, {
    digest: testDigest(n),
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: null,
    subjectDigest: null,
    annotations: null,
    bytes: Buffer.from(JSON.stringify({ schemaVersion: 2, n })),
    references: [],
  });
}
