import type { BlobIndex, BlobRecord, GarbageIndex, ManifestIndex, Metadata, RepositoryStore, TagIndex } from '../db/metadata.js';
import { cachedLookups, type CachedLookups, type CachingDeps } from './cached-lookups.js';
import { PERMISSIONS_GROUP } from './caching-accounts.js';

export { DEFAULT_CACHE_TTLS, type CacheTtls, type CachingDeps } from './cached-lookups.js';

/** Every repository lookup (by name or id) is one group: repository writes are rare, lookups constant. */
export const REPOSITORIES_GROUP = 'repositories';
/** Tags and manifests of one repository. */
export const repositoryGroup = (id: number) => `repository:${id}`;

/**
 * The hot read paths of a pull (repository by name, a tag's manifest, a manifest by digest, a tag, a page of
 * the tag list, a blob's link) answered from memory; every write goes through here and invalidates the group it touches on every instance.
 * Everything else passes through to the database.
 */
export function cachingMetadata(inner: Metadata, deps: CachingDeps, lookups: CachedLookups = cachedLookups(deps)): Metadata {
  const { cached, writing } = lookups;
  const now = deps.now ?? Date.now;

  const repos = inner.repositories;
  const repositories: RepositoryStore = {
    getRepository: (name) => cached('repository', `repository:name:${name}`, REPOSITORIES_GROUP, () => repos.getRepository(name), { onlyWhileListening: true }),
    getRepositoryById: (id) => cached('repository', `repository:id:${id}`, REPOSITORIES_GROUP, () => repos.getRepositoryById(id), { onlyWhileListening: true }),
    ensureRepository: (name) => writing([REPOSITORIES_GROUP], () => repos.ensureRepository(name)),
    createRepository: (name, visibility) => writing([REPOSITORIES_GROUP], () => repos.createRepository(name, visibility)),
    setVisibility: (id, visibility) => writing([REPOSITORIES_GROUP], () => repos.setVisibility(id, visibility)),
    setDescription: (id, description) => writing([REPOSITORIES_GROUP], () => repos.setDescription(id, description)),
    // Its grants go with it, and SQLite may give its id to the next repository created.
    deleteRepository: (id) => writing([REPOSITORIES_GROUP, repositoryGroup(id), PERMISSIONS_GROUP], () => repos.deleteRepository(id)),
    countRepositories: (namespace) => repos.countRepositories(namespace),
    listRepositories: (page) => repos.listRepositories(page),
  };

  const m = inner.manifests;
  const manifests: ManifestIndex = {
    putManifest: (id, manifest, tagNames) => writing([repositoryGroup(id)], () => m.putManifest(id, manifest, tagNames)),
    getManifest: (id, digest) => cached('manifest', `manifest:${id}:${digest}`, repositoryGroup(id), () => m.getManifest(id, digest)),
    getTaggedManifest: (id, tag) => cached('tagged_manifest', `tagged:${id}:${tag}`, repositoryGroup(id), () => m.getTaggedManifest(id, tag)),
    hasManifest: (id, digest) => m.hasManifest(id, digest),
    presentManifests: (id, digests) => m.presentManifests(id, digests),
    deleteManifest: (id, digest) => writing([repositoryGroup(id)], () => m.deleteManifest(id, digest)),
    listReferrers: (id, subject, artifactType) => m.listReferrers(id, subject, artifactType),
  };

  const t = inner.tags;
  const tags: TagIndex = {
    getTag: (id, name) => cached('tag', `tag:${id}:${name}`, repositoryGroup(id), () => t.getTag(id, name)),
    setTag: (id, name, digest) => writing([repositoryGroup(id)], () => t.setTag(id, name, digest)),
    deleteTag: (id, name) => writing([repositoryGroup(id)], () => t.deleteTag(id, name)),
    // A tag list changes through the writes of this repository's group, and at the earliest expiry of its tags
    // (kept no longer than that, like a tag). An empty page is an absence and is never kept: the first tags
    // pushed through another instance must be listed at once.
    listTags: async (id, page) => (await tags.listTagPage(id, page)).names.slice(),
    listTagPage: async (id, page) => {
      const found = await cached('tag_list', `tags:${id}:${page.limit}:${page.last ?? ''}`, repositoryGroup(id), async () => {
        const listed = await t.listTagPage(id, page);
        return listed.names.length === 0 ? undefined : listed;
      });
      return found ?? { names: [], lifetimeEnd: null };
    },
    tagHistory: (id, name) => t.tagHistory(id, name),
    setTagExpiration: (id, name, expiresAt, bounds) => writing([repositoryGroup(id)], () => t.setTagExpiration(id, name, expiresAt, bounds)),
    restoreTag: (id, name, digest, windowMs) => writing([repositoryGroup(id)], () => t.restoreTag(id, name, digest, windowMs)),
  };

  // A repository's blob links, for blob GET and HEAD. An entry remembers when the link was last touched, as the
  // database said (never later than the row's own touched_at, which only moves forward). A HEAD (holdLinkedBlob)
  // accepts an entry only under the database's own condition (touched less than half the grace period ago):
  // such a link is one GC cannot delete for another half grace period, so answering it from memory keeps the
  // HEAD->PUT protection of docs/gc.md; an older entry goes to the database, which refreshes the link. A link is
  // removed by a blob DELETE, GC or the repository's deletion, each of which invalidates the repository's group.
  const b = inner.blobs;
  interface CachedLink {
    blob: BlobRecord;
    /** -Infinity when read by a GET (getLinkedBlob says nothing of touched_at). */
    touchedAt: number;
  }
  const link = (id: number, digest: string, load: () => Promise<CachedLink | undefined>, accept?: (found: CachedLink) => boolean) =>
    cached('blob_link', `link:${id}:${digest}`, repositoryGroup(id), load, { accept });
  const blobs: BlobIndex = {
    linkedBytes: (ids) => b.linkedBytes(ids),
    getBlob: (digest) => b.getBlob(digest),
    recordBlob: (digest, size) => b.recordBlob(digest, size),
    // A new link or a refreshed one changes no cached answer: an absence is never cached, touched_at only grows.
    linkBlob: (id, digest) => b.linkBlob(id, digest),
    getLinkedBlob: async (id, digest) => {
      const found = await link(id, digest, async () => {
        const blob = await b.getLinkedBlob(id, digest);
        return blob && { blob, touchedAt: -Infinity };
      });
      return found?.blob;
    },
    holdLinkedBlob: async (id, digest, graceMs) => {
      const found = await link(
        id,
        digest,
        async () => {
          const held = await b.holdLinkedBlob(id, digest, graceMs);
          return held && { blob: { digest: held.digest, size: held.size, createdAt: held.createdAt }, touchedAt: held.touchedAt };
        },
        (entry) => entry.touchedAt >= now() - graceMs / 2,
      );
      return found && { ...found.blob, touchedAt: found.touchedAt };
    },
    linkedDigests: (id, digests) => b.linkedDigests(id, digests),
    unlinkBlob: (id, digest) => writing([repositoryGroup(id)], () => b.unlinkBlob(id, digest)),
    listUnreferencedBlobs: (limit) => b.listUnreferencedBlobs(limit),
    forgetBlob: (digest) => b.forgetBlob(digest),
  };

  // GC deletes manifests and tag history of a repository: what this cache holds of it goes with them.
  const g = inner.garbage;
  const garbage: GarbageIndex = {
    listRepositoryIds: (afterId, limit) => g.listRepositoryIds(afterId, limit),
    findRepositoryGarbage: (id, policy) => g.findRepositoryGarbage(id, policy),
    collectRepository: (id, policy) => writing([repositoryGroup(id)], () => g.collectRepository(id, policy)),
    listGarbageBlobs: (policy, limit) => g.listGarbageBlobs(policy, limit),
    collectBlob: (digest, policy, deleteStored) => g.collectBlob(digest, policy, deleteStored),
    acquireLease: (name, holder, now, ttlMs) => g.acquireLease(name, holder, now, ttlMs),
    releaseLease: (name, holder) => g.releaseLease(name, holder),
  };

  return {
    repositories,
    garbage,
    blobs,
    uploads: inner.uploads,
    manifests,
    tags,
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
}
