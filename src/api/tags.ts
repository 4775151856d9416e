import { z } from 'zod';
import { isCurrentTag, MissingReferenceError, type TagRecord } from '../db/metadata.js';
import { isValidDigest } from '../oci/digest.js';
import { isValidTag } from '../oci/names.js';
import type { ContextByAccess } from './access.js';
import { auditRepository, noContent, ok } from './context.js';
import { badRequest, notFound } from './errors.js';
import { epochSeconds, quayDate } from './format.js';
import { manifestDownloadSize, manifestShape } from './manifest-view.js';
import type { RepositoryPath } from './paths.js';
import type { RepositoryRouteTable } from './repository-routes.js';
import { parseBody, parseQuery, queryBoolean, queryInteger } from './validation.js';
import { windowName } from '../gc/tag-expiration.js';

/**
 * Tags of a repository with their history (/repository/{repo}/tag/...): list, create or move, set or clear an
 * expiry, delete, and restore to an earlier manifest within the namespace's time machine window. Every tag row
 * is one lifetime, so history comes for free; an expiry is a lifetime end still ahead (docs/tag-expiration.md).
 */

const ListQuery = z.object({
  specificTag: z.string().max(128).optional(),
  onlyActiveTags: queryBoolean.optional(),
  page: queryInteger(1, 1_000_000).optional(),
  limit: queryInteger(1, 100).optional(),
});

const digest = z.string().max(200).refine(isValidDigest, 'must be a digest such as sha256:<64 hex digits>');
const TagBody = z.object({ manifest_digest: digest });
/** Quay's ChangeTag: either or both; expiration is a Unix time in seconds, null to clear it. */
const ChangeTagBody = z.object({
  manifest_digest: digest.optional(),
  expiration: z.number({ error: 'must be a Unix time in seconds, or null' }).nonnegative().nullable().optional(),
});

const DEFAULT_LIMIT = 50;

/** Quay's tag view; `size` and `is_manifest_list` come from the manifest (manifest-view.ts), null when it is gone. */
function tagView(tag: TagRecord, manifest: { size: number | null; isIndex: boolean } | undefined) {
  return {
    name: tag.name,
    reversion: false,
    start_ts: epochSeconds(tag.lifetimeStart),
    ...(tag.lifetimeEnd === null ? {} : { end_ts: epochSeconds(tag.lifetimeEnd), expiration: quayDate(tag.lifetimeEnd) }),
    manifest_digest: tag.manifestDigest,
    is_manifest_list: manifest?.isIndex ?? false,
    size: manifest?.size ?? null,
    last_modified: quayDate(tag.lifetimeStart),
  };
}

/** Size and kind of each distinct manifest of a page of tags, looked up once per digest. */
async function manifestFacts(ctx: ContextByAccess['repository:read'], tags: readonly TagRecord[]) {
  const facts = new Map<string, { size: number | null; isIndex: boolean }>();
  for (const digest of new Set(tags.map((tag) => tag.manifestDigest))) {
    const manifest = await ctx.services.metadata.manifests.getManifest(ctx.repository.id, digest);
    if (manifest === undefined) continue;
    facts.set(digest, { size: await manifestDownloadSize(ctx.services.metadata.manifests, manifest), isIndex: manifestShape(manifest.bytes).kind === 'index' });
  }
  return facts;
}

function tagOf(path: RepositoryPath): string {
  const resource = path.resource;
  if (resource.kind !== 'tag' && resource.kind !== 'restore') throw notFound();
  if (!isValidTag(resource.tag)) throw badRequest(`invalid tag name ${JSON.stringify(resource.tag.slice(0, 200))}: tags match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}`);
  return resource.tag;
}

/**
 * Points the path's tag at `manifestDigest` (the route declares write access; the manifest must be in this
 * repository); returns what the tag pointed at before, for the audit row.
 */
async function pointTag(ctx: ContextByAccess['repository:write'], tag: string, manifestDigest: string) {
  const { repository } = ctx;
  if (!(await ctx.services.metadata.manifests.hasManifest(repository.id, manifestDigest))) {
    throw notFound(`manifest ${manifestDigest} not found in this repository`);
  }
  const previous = (await ctx.services.metadata.tags.getTag(repository.id, tag))?.manifestDigest;
  try {
    await ctx.services.metadata.tags.setTag(repository.id, tag, manifestDigest);
  } catch (error) {
    // Garbage collection removed the manifest between the check above and the move.
    if (error instanceof MissingReferenceError) throw notFound(`manifest ${manifestDigest} not found in this repository`);
    throw error;
  }
  return { repository, tag, manifestDigest, previous };
}

/** PUT's move: create_tag or move_tag in the audit log, as Quay writes them. */
async function moveTag(ctx: ContextByAccess['repository:write'], tag: string, manifestDigest: string): Promise<void> {
  const { repository, previous } = await pointTag(ctx, tag, manifestDigest);
  if (previous === undefined) {
    auditRepository(ctx, 'create_tag', repository.name, { tag, manifest_digest: manifestDigest, username: ctx.identity.name });
  } else if (previous !== manifestDigest) {
    auditRepository(ctx, 'move_tag', repository.name, {
      tag,
      manifest_digest: manifestDigest,
      original_manifest_digest: previous,
      username: ctx.identity.name,
    });
  }
}

/** Quay's rules for an expiry: the feature must be on, and a time must lie ahead (null clears). */
function checkExpiration(ctx: ContextByAccess['repository:write'], expiration: number | null): void {
  if (!ctx.services.options.tagExpiration.changeable) {
    throw badRequest('tag expiration cannot be changed on this registry (FEATURE_CHANGE_TAG_EXPIRATION is off)');
  }
  if (expiration !== null && expiration * 1000 <= (ctx.services.now ?? Date.now)()) {
    throw badRequest('expiration must be a Unix time in seconds in the future, or null to clear it');
  }
}

/** Sets or clears the current tag's expiry (clamped as Quay does: see ExpiryBounds); change_tag_expiration. */
async function changeExpiration(ctx: ContextByAccess['repository:write'], tag: string, expiration: number | null): Promise<void> {
  const { repository } = ctx;
  const expiresAt = expiration === null ? null : Math.round(expiration * 1000);
  const changed = await ctx.services.metadata.tags.setTagExpiration(repository.id, tag, expiresAt, ctx.services.options.tagExpiration.bounds);
  if (changed === undefined) throw notFound(`tag ${JSON.stringify(tag)} not found`);
  if (changed.previous === null && expiresAt === null) return;
  auditRepository(ctx, 'change_tag_expiration', repository.name, {
    tag,
    expiration_date: expiresAt === null ? null : quayDate(new Date(expiresAt)),
    old_expiration_date: changed.previous === null ? null : quayDate(changed.previous),
    username: ctx.identity.name,
  });
}

export const tagRoutes: RepositoryRouteTable = {
  'GET tags': {
    access: 'repository:read',
    handler: async (ctx) => {
      const query = parseQuery(ListQuery, ctx.request.query);
      const { repository } = ctx;
      const page = query.page ?? 1;
      const limit = query.limit ?? DEFAULT_LIMIT;
      if (query.specificTag !== undefined && !isValidTag(query.specificTag)) throw badRequest('specificTag is not a valid tag name');
      let history = await ctx.services.metadata.tags.tagHistory(repository.id, query.specificTag);
      const now = (ctx.services.now ?? Date.now)();
      if (query.onlyActiveTags === true) history = history.filter((tag) => isCurrentTag(tag, now));
      const start = (page - 1) * limit;
      const tags = history.slice(start, start + limit);
      const facts = await manifestFacts(ctx, tags);
      return ok({ tags: tags.map((tag) => tagView(tag, facts.get(tag.manifestDigest))), page, has_additional: history.length > start + limit });
    },
  },
  'PUT tag': {
    access: 'repository:write',
    handler: async (ctx, path) => {
      const tag = tagOf(path);
      const body = parseBody(ChangeTagBody, ctx.request.body);
      if (body.manifest_digest === undefined && body.expiration === undefined) throw badRequest('give manifest_digest, expiration or both');
      // Refused before anything changes, so a request that cannot set its expiry does not move the tag either.
      if (body.expiration !== undefined) checkExpiration(ctx, body.expiration);
      if (body.manifest_digest !== undefined) await moveTag(ctx, tag, body.manifest_digest);
      // After the move: a tag created or moved by this request carries the expiry it asked for.
      if (body.expiration !== undefined) await changeExpiration(ctx, tag, body.expiration);
      return { status: 201, body: 'Updated' };
    },
  },
  'DELETE tag': {
    access: 'repository:write',
    handler: async (ctx, path) => {
      const tag = tagOf(path);
      const { repository } = ctx;
      const existing = await ctx.services.metadata.tags.getTag(repository.id, tag);
      if (existing === undefined || !(await ctx.services.metadata.tags.deleteTag(repository.id, tag))) {
        throw notFound(`tag ${JSON.stringify(tag)} not found`);
      }
      auditRepository(ctx, 'delete_tag', repository.name, { tag, manifest_digest: existing.manifestDigest, username: ctx.identity.name });
      return noContent();
    },
  },
  'POST restore': {
    access: 'repository:write',
    handler: async (ctx, path) => {
      const tag = tagOf(path);
      const manifestDigest = parseBody(TagBody, ctx.request.body).manifest_digest;
      const { repository } = ctx;
      const outcome = await ctx.services.metadata.tags.restoreTag(repository.id, tag, manifestDigest, ctx.services.options.tagExpiration.defaultS * 1000);
      if (outcome.kind === 'missing') throw notFound(`manifest ${manifestDigest} not found in this repository`);
      if (outcome.kind === 'outside-window') {
        const window = windowName(ctx.services.options.tagExpiration, outcome.windowMs / 1000);
        throw badRequest(
          `tag ${JSON.stringify(tag)} last pointed at ${manifestDigest} until ${outcome.endedAt.toISOString()}, before the time machine window of namespace ${JSON.stringify(repository.namespace)} (${window}): it can no longer be restored`,
        );
      }
      const previous = outcome.previous;
      auditRepository(ctx, 'revert_tag', repository.name, {
        tag,
        manifest_digest: manifestDigest,
        ...(previous === undefined ? {} : { original_manifest_digest: previous }),
      });
      return ok({});
    },
  },
};
