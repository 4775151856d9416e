import { z } from 'zod';
import { MissingReferenceError, type TagRecord } from '../db/metadata.js';
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

/**
 * Tags of a repository with their history (/repository/{repo}/tag/...): list, create or move, delete,
 * and restore to an earlier manifest. Every tag row is one lifetime, so history comes for free.
 */

const ListQuery = z.object({
  specificTag: z.string().max(128).optional(),
  onlyActiveTags: queryBoolean.optional(),
  page: queryInteger(1, 1_000_000).optional(),
  limit: queryInteger(1, 100).optional(),
});

const digest = z.string().max(200).refine(isValidDigest, 'must be a digest such as sha256:<64 hex digits>');
const TagBody = z.object({ manifest_digest: digest });

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
 * Points the path's tag at the body's manifest_digest (PUT and restore alike: both routes declare write access;
 * the manifest must be in this repository); returns what the tag pointed at before, for the audit row.
 */
async function pointTag(ctx: ContextByAccess['repository:write'], path: RepositoryPath) {
  const tag = tagOf(path);
  const { repository } = ctx;
  const manifestDigest = parseBody(TagBody, ctx.request.body).manifest_digest;
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
      if (query.onlyActiveTags === true) history = history.filter((tag) => tag.lifetimeEnd === null);
      const start = (page - 1) * limit;
      const tags = history.slice(start, start + limit);
      const facts = await manifestFacts(ctx, tags);
      return ok({ tags: tags.map((tag) => tagView(tag, facts.get(tag.manifestDigest))), page, has_additional: history.length > start + limit });
    },
  },
  'PUT tag': {
    access: 'repository:write',
    handler: async (ctx, path) => {
      const { repository, tag, manifestDigest, previous } = await pointTag(ctx, path);
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
      const { repository, tag, manifestDigest, previous } = await pointTag(ctx, path);
      auditRepository(ctx, 'revert_tag', repository.name, {
        tag,
        manifest_digest: manifestDigest,
        ...(previous === undefined ? {} : { original_manifest_digest: previous }),
      });
      return ok({});
    },
  },
};
