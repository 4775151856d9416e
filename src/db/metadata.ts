/**
 * The registry's metadata contract, split by role. One implementation (src/db/kysely-metadata.ts)
 * serves SQLite, PostgreSQL and MySQL/MariaDB; every method is safe under concurrent callers on
 * several instances (idempotent inserts, compare-and-set on upload offsets, tag moves in a transaction).
 */

/**
 * A manifest or tag write found a digest it needs gone at commit time: a blob no longer linked into the
 * repository, a child manifest or a tag's target no longer present (garbage collection took it in between).
 */
export class MissingReferenceError extends Error {
  constructor(readonly digest: string) {
    super(`${digest} is not present in the repository`);
    this.name = 'MissingReferenceError';
  }
}

export interface RepositoryRecord {
  id: number;
  /** Full repository name as used in /v2/<name>/..., e.g. "acme/tools/app". */
  name: string;
  /** First path component ("acme"); empty for single-component names. */
  namespace: string;
  visibility: 'public' | 'private';
  /** Free text (Quay shows it as Markdown); null when never set. */
  description: string | null;
  createdAt: Date;
}

export interface BlobRecord {
  digest: string;
  size: number;
  createdAt: Date;
}

/** A blob whose link a client may rely on (holdLinkedBlob). */
export interface HeldBlobRecord extends BlobRecord {
  /** When the link was last touched (ms), as read or as just refreshed: GC keeps it until touchedAt + grace. */
  touchedAt: number;
}

export interface UploadRecord {
  id: string;
  repositoryId: number;
  /** Bytes received so far (the next chunk must start here). */
  size: number;
  /** The serialized SHA-256 state after exactly `size` bytes; null when empty or not kept. */
  hashState: Uint8Array | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What a manifest references; recorded for validation, referrers and garbage collection. */
export interface ManifestReference {
  digest: string;
  kind: 'blob' | 'manifest';
}

export interface NewManifest {
  digest: string;
  mediaType: string;
  /** artifactType of an OCI artifact, else the config media type for OCI images (per the referrers rules), else null. */
  artifactType: string | null;
  subjectDigest: string | null;
  /** Annotations of the manifest, reported by the referrers API. */
  annotations: Record<string, string> | null;
  /** The exact bytes the client sent. */
  bytes: Buffer;
  references: ManifestReference[];
  /**
   * The `quay.expires-after` label of an image's config, in seconds: each tag pointed at this manifest then ends
   * that long after it started (Quay's rule). Absent or null: no label.
   */
  expiresAfterS?: number | null;
}

export interface ManifestRecord {
  id: number;
  repositoryId: number;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  subjectDigest: string | null;
  annotations: Record<string, string> | null;
  size: number;
  bytes: Buffer;
  createdAt: Date;
}

export type ManifestSummary = Omit<ManifestRecord, 'bytes' | 'repositoryId'>;

/** The manifest of a current tag, with the tag's expiry (so that a cache keeps it no longer than that). */
export interface TaggedManifestRecord extends ManifestRecord {
  /** When the tag stops naming this manifest; null when it does not expire. */
  tagLifetimeEnd: Date | null;
}

export interface TagRecord {
  id: number;
  repositoryId: number;
  name: string;
  manifestDigest: string;
  /** When this tag started pointing at manifestDigest. */
  lifetimeStart: Date;
  /**
   * When it stopped (moved, deleted, expired) or, when later than now, when it expires; null while current and
   * not expiring. A tag is current while this is null or later than now.
   */
  lifetimeEnd: Date | null;
}

/** Whether the tag lifetime is current at `now` (ms): no end, or an end (its expiry) still ahead. */
export function isCurrentTag(tag: Pick<TagRecord, 'lifetimeEnd'>, now: number): boolean {
  return tag.lifetimeEnd === null || tag.lifetimeEnd.getTime() > now;
}

/** Bounds of an expiry set through the API, relative to the tag's start (LABELED_EXPIRATION_MINIMUM/MAXIMUM). */
export interface ExpiryBounds {
  minMs: number;
  maxMs: number;
}

/** What a restore found in the tag's history. */
export type RestoreOutcome =
  | { kind: 'restored'; previous: string | undefined }
  /** Every lifetime of the tag on that manifest ended before the namespace's time machine window. */
  | { kind: 'outside-window'; endedAt: Date; windowMs: number }
  /** The manifest is not (or no longer) in the repository. */
  | { kind: 'missing' };

/** Page parameters shared by catalog and tag listing: entries strictly after `last`, at most `limit`. */
export interface Page {
  last?: string;
  limit: number;
}

export interface RepositoryStore {
  getRepository(name: string): Promise<RepositoryRecord | undefined>;
  /** Returns the repository, creating it (private) when missing; concurrent callers get the same row. */
  ensureRepository(name: string): Promise<RepositoryRecord>;
  /**
   * Returns the repository, creating it with `visibility` when missing; `created` is true only for the one
   * caller whose insert made it (so that exactly one of several concurrent pushers applies the creation rules).
   */
  createRepository(name: string, visibility: 'public' | 'private'): Promise<{ repository: RepositoryRecord; created: boolean }>;
  getRepositoryById(id: number): Promise<RepositoryRecord | undefined>;
  setVisibility(id: number, visibility: 'public' | 'private'): Promise<void>;
  /** Sets or (with null) clears the description. */
  setDescription(id: number, description: string | null): Promise<void>;
  /** Deletes the repository with its manifests, tags, links, uploads and permissions; false when missing. */
  deleteRepository(id: number): Promise<boolean>;
  /** How many repositories the namespace has (a namespace with repositories cannot be deleted). */
  countRepositories(namespace: string): Promise<number>;
  /** Repository names in lexical order. */
  listRepositories(page: Page): Promise<string[]>;
}

export interface BlobIndex {
  /**
   * The bytes of the distinct blobs each repository links (what a copy of it occupies), by repository id;
   * repositories linking nothing are absent.
   */
  linkedBytes(repositoryIds: readonly number[]): Promise<Map<number, number>>;
  /** A blob known anywhere in the registry (for cross-repository mounts and dedup). */
  getBlob(digest: string): Promise<BlobRecord | undefined>;
  /** Idempotent. */
  recordBlob(digest: string, size: number): Promise<void>;
  /** Idempotent: links a recorded blob into a repository. */
  linkBlob(repositoryId: number, digest: string): Promise<void>;
  /** The blob, only if linked into this repository. */
  getLinkedBlob(repositoryId: number, digest: string): Promise<BlobRecord | undefined>;
  /**
   * getLinkedBlob for a client that will rely on the link (a push's HEAD, a mount's source): the link is then
   * kept from garbage collection for at least half of `graceMs` from now (its touched_at refreshed when older),
   * or, when GC removed it first, undefined. See docs/gc.md.
   */
  holdLinkedBlob(repositoryId: number, digest: string, graceMs: number): Promise<HeldBlobRecord | undefined>;
  /**
   * Which of `digests` are linked into this repository, looked up in bounded batches (one query per
   * LOOKUP_BATCH_SIZE digests), however many are asked.
   */
  linkedDigests(repositoryId: number, digests: readonly string[]): Promise<Set<string>>;
  /** Removes the link; true when a link was removed. */
  unlinkBlob(repositoryId: number, digest: string): Promise<boolean>;
  /** Digests that no repository links and no manifest references (for garbage collection). */
  listUnreferencedBlobs(limit: number): Promise<string[]>;
  /** Removes the blob row (after its storage object is gone). */
  forgetBlob(digest: string): Promise<void>;
}

export interface UploadIndex {
  createUpload(id: string, repositoryId: number): Promise<UploadRecord>;
  getUpload(id: string): Promise<UploadRecord | undefined>;
  /**
   * Compare-and-set: moves size from `expectedSize` to `newSize` and stores `hashState` (the digest state after
   * `newSize` bytes, null when none is kept) in the same statement; false when another writer got there first.
   */
  advanceUpload(id: string, expectedSize: number, newSize: number, hashState: Uint8Array | null): Promise<boolean>;
  /** Idempotent. */
  deleteUpload(id: string): Promise<void>;
  /** Uploads not written since `before`. */
  listStaleUploads(before: Date, limit: number): Promise<UploadRecord[]>;
}

export interface ManifestIndex {
  /**
   * Idempotent: a second put of the same digest in the same repository is a no-op. The manifest, its references
   * and the `tags` pointed at it commit in one transaction serialised with garbage collection of the repository,
   * after checking that every referenced blob is still linked and every child manifest present (else
   * MissingReferenceError and nothing is written).
   */
  putManifest(repositoryId: number, manifest: NewManifest, tags?: readonly string[]): Promise<ManifestRecord>;
  getManifest(repositoryId: number, digest: string): Promise<ManifestRecord | undefined>;
  /** The manifest the current tag points at, in one lookup (the hot path of a pull by tag). */
  getTaggedManifest(repositoryId: number, tag: string): Promise<TaggedManifestRecord | undefined>;
  /** Existence check without loading bytes (index validation). */
  hasManifest(repositoryId: number, digest: string): Promise<boolean>;
  /** Which of `digests` are manifests of this repository, in bounded batches like BlobIndex.linkedDigests. */
  presentManifests(repositoryId: number, digests: readonly string[]): Promise<Set<string>>;
  /** Deletes the manifest and ends the lifetime of every tag pointing at it; true when it existed. */
  deleteManifest(repositoryId: number, digest: string): Promise<boolean>;
  /** Manifests of this repository whose subject is `subjectDigest`, optionally of one artifactType. */
  listReferrers(repositoryId: number, subjectDigest: string, artifactType?: string): Promise<ManifestSummary[]>;
}

/** A page of current tag names and when it stops being true without any write (an expiry), or null. */
export interface TagPage {
  names: string[];
  lifetimeEnd: Date | null;
}

export interface TagIndex {
  /** The current tag, if any. */
  getTag(repositoryId: number, name: string): Promise<TagRecord | undefined>;
  /**
   * Points the tag at a manifest, ending the previous lifetime when it pointed elsewhere; atomic. Throws
   * MissingReferenceError when the manifest is not in the repository.
   */
  setTag(repositoryId: number, name: string, manifestDigest: string): Promise<void>;
  /** Ends the tag's current lifetime; true when a current tag existed. */
  deleteTag(repositoryId: number, name: string): Promise<boolean>;
  /** Current tag names in lexical order. */
  listTags(repositoryId: number, page: Page): Promise<string[]>;
  /** The same page, with the earliest expiry among its tags: the moment the page changes by itself. */
  listTagPage(repositoryId: number, page: Page): Promise<TagPage>;
  /** Every lifetime of every tag (or of one tag), newest first: the data for tag history and restore. */
  tagHistory(repositoryId: number, name?: string): Promise<TagRecord[]>;
  /**
   * Sets (a time in ms, clamped to `bounds` after the tag's start, as Quay does) or clears (null) the current
   * tag's expiry; the previous one, or undefined when no current tag has the name.
   */
  setTagExpiration(repositoryId: number, name: string, expiresAt: number | null, bounds: ExpiryBounds): Promise<{ previous: Date | null } | undefined>;
  /**
   * Points the tag at `manifestDigest` again, unless every lifetime of this tag on that manifest ended before the
   * namespace's time machine window (its removed_tag_expiration_s, else `defaultWindowMs`). A manifest the tag
   * never pointed at is a plain move, as Quay's restore is.
   */
  restoreTag(repositoryId: number, name: string, manifestDigest: string, defaultWindowMs: number): Promise<RestoreOutcome>;
}

/** What garbage collection may take, as of `now`. */
export interface GarbagePolicy {
  /** Milliseconds since the epoch. */
  now: number;
  /**
   * The time machine: a tag lifetime that ended less than this long ago still keeps its manifest. The default;
   * a namespace's own window (removed_tag_expiration_s) takes precedence.
   */
  timeMachineMs: number;
  /** Manifests, blobs and links written or touched less than this long ago are never garbage (pushes in flight). */
  graceMs: number;
}

/** The garbage of one repository: found (dry run) or removed. */
export interface RepositoryGarbage {
  /** Digests of manifests nothing reaches. */
  manifests: string[];
  /** Digests whose link into the repository no remaining manifest needs. */
  links: string[];
  /** Tag lifetimes that ended before the time machine window. */
  expiredTagLifetimes: number;
}

export interface GarbageIndex {
  /** Repository ids greater than `afterId`, ascending, at most `limit`. */
  listRepositoryIds(afterId: number, limit: number): Promise<number[]>;
  /** The repository's garbage, without removing anything (dry run). */
  findRepositoryGarbage(repositoryId: number, policy: GarbagePolicy): Promise<RepositoryGarbage>;
  /**
   * Finds and removes the repository's garbage in one transaction under the repository lock, which manifest
   * and tag writes take too, so none of them interleaves with it (see docs/gc.md).
   */
  collectRepository(repositoryId: number, policy: GarbagePolicy): Promise<RepositoryGarbage>;
  /** Blobs no repository links and no manifest references, untouched for the grace period; oldest first. */
  listGarbageBlobs(policy: GarbagePolicy, limit: number): Promise<BlobRecord[]>;
  /**
   * Removes one garbage blob: locks its row, checks again that nothing links it, runs `deleteStored` (the
   * storage object in every location) while holding the lock, then forgets the row; false when it is no longer
   * garbage. A failure or crash in deleteStored leaves the row, so the next pass tries again.
   */
  collectBlob(digest: string, policy: GarbagePolicy, deleteStored: () => Promise<void>): Promise<boolean>;
  /** Takes or renews the lease `name` for `holder` until now + ttlMs; false while another holder has it. */
  acquireLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean>;
  /** Gives the lease up (only when `holder` has it). */
  releaseLease(name: string, holder: string): Promise<void>;
}

/** Everything the registry needs from the database. */
export interface Metadata {
  readonly repositories: RepositoryStore;
  readonly blobs: BlobIndex;
  readonly uploads: UploadIndex;
  readonly manifests: ManifestIndex;
  readonly tags: TagIndex;
  readonly garbage: GarbageIndex;
  /** Resolves when the database answers a trivial query; used by /health. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
