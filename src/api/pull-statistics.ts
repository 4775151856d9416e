import { isValidDigest } from '../oci/digest.js';
import { isValidTag } from '../oci/names.js';
import type { ContextByAccess } from './access.js';
import { ok } from './context.js';
import { badRequest, notFound } from './errors.js';
import type { RepositoryPath } from './paths.js';
import type { RepositoryRouteTable } from './repository-routes.js';

/**
 * Quay's pull statistics (FEATURE_IMAGE_PULL_STATS): GET /repository/{repo}/tag/{tag}/pull_statistics and
 * /repository/{repo}/manifest/{digest}/pull_statistics. Counts are what the flush has written so far (they lag
 * by up to REDIS_FLUSH_INTERVAL_SECONDS); never pulled is 0 pulls and a null date, as in Quay.
 */

function storeOf(ctx: ContextByAccess['repository:read']) {
  const store = ctx.services.pullStatistics;
  if (store === undefined) throw notFound('pull statistics are off (FEATURE_IMAGE_PULL_STATS)');
  return store;
}

const isoDate = (date: Date | undefined) => (date === undefined ? null : date.toISOString().replace(/\.\d{3}Z$/, 'Z'));

async function tagStatistics(ctx: ContextByAccess['repository:read'], path: RepositoryPath) {
  const store = storeOf(ctx);
  if (path.resource.kind !== 'tag_pull_statistics') throw notFound();
  const name = path.resource.tag;
  if (!isValidTag(name)) throw badRequest(`invalid tag name ${JSON.stringify(name.slice(0, 200))}: tags match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}`);
  const tag = await ctx.services.metadata.tags.getTag(ctx.repository.id, name);
  if (tag === undefined) throw notFound(`tag ${name} not found in this repository`);
  const tagged = await store.forTag(ctx.repository.id, name);
  const manifest = await ctx.services.metadata.manifests.getManifest(ctx.repository.id, tag.manifestDigest);
  const manifestStats = manifest === undefined ? undefined : await store.forManifest(manifest.id);
  return ok({
    tag_name: name,
    tag_pull_count: tagged?.pullCount ?? 0,
    last_tag_pull_date: isoDate(tagged?.lastPulledAt),
    current_manifest_digest: tag.manifestDigest,
    manifest_pull_count: manifestStats?.pullCount ?? 0,
    last_manifest_pull_date: isoDate(manifestStats?.lastPulledAt),
  });
}

async function manifestStatistics(ctx: ContextByAccess['repository:read'], path: RepositoryPath) {
  const store = storeOf(ctx);
  if (path.resource.kind !== 'manifest_pull_statistics') throw notFound();
  const digest = path.resource.digest;
  if (digest.length > 200 || !isValidDigest(digest)) throw badRequest(`invalid digest ${JSON.stringify(digest.slice(0, 200))}: expected sha256:<64 hex digits>`);
  const manifest = await ctx.services.metadata.manifests.getManifest(ctx.repository.id, digest);
  if (manifest === undefined) throw notFound(`manifest ${digest} not found in this repository`);
  const stats = await store.forManifest(manifest.id);
  return ok({ manifest_digest: digest, manifest_pull_count: stats?.pullCount ?? 0, last_manifest_pull_date: isoDate(stats?.lastPulledAt) });
}

export const pullStatisticsRoutes: RepositoryRouteTable = {
  'GET tag_pull_statistics': { access: 'repository:read', handler: tagStatistics },
  'GET manifest_pull_statistics': { access: 'repository:read', handler: manifestStatistics },
};
