import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { namespaceNameProblem } from '../auth/names.js';
import type { AuthServices } from '../auth/services.js';
import { isCurrentTag, type RepositoryRecord } from '../db/metadata.js';
import { repositoryNameProblem } from '../oci/names.js';
import { roleAtLeast } from './access.js';
import { auditRepository, created, noContent, ok } from './context.js';
import { badRequest, forbidden, unauthorized } from './errors.js';
import { epochSeconds, quayDate } from './format.js';
import { splitRepositoryName } from './paths.js';
import type { RepositoryRouteTable } from './repository-routes.js';
import { route, slashed } from './route.js';
import { checkName, MAX_NAME_INPUT_LENGTH, parseBody, parseQuery, queryBoolean, repositoryDescription, visibility } from './validation.js';

/**
 * Repositories: list and create (/repository), view, describe, delete and change visibility
 * (/repository/{repo}...).
 */

const NewRepositoryBody = z.object({
  namespace: z.string().min(1).max(MAX_NAME_INPUT_LENGTH),
  repository: z.string().min(1).max(MAX_NAME_INPUT_LENGTH),
  visibility,
  description: repositoryDescription.nullable().optional(),
  repo_kind: z.literal('image').nullable().optional(),
});

const ListQuery = z.object({
  namespace: z.string().min(1).max(MAX_NAME_INPUT_LENGTH).optional(),
  public: queryBoolean.optional(),
  starred: queryBoolean.optional(),
  next_page: z.string().min(1).max(MAX_NAME_INPUT_LENGTH).optional(),
  last_modified: queryBoolean.optional(),
  quota: queryBoolean.optional(),
  popularity: queryBoolean.optional(),
  repo_kind: z.literal('image').optional(),
});

const VisibilityBody = z.object({ visibility });

/** Quay's RepoUpdate; null (ours) clears the description. */
const DescriptionBody = z.object({ description: repositoryDescription.nullable() });

const LIST_PAGE = 100;

/** Quay's last_modified of a listed repository: the latest tag change (push, move, delete) in epoch seconds. */
async function lastModified(services: AuthServices, repository: RepositoryRecord): Promise<number | null> {
  let latest: number | null = null;
  for (const tag of await services.metadata.tags.tagHistory(repository.id)) {
    // An end still ahead is an expiry, not a change yet.
    const ended = tag.lifetimeEnd !== null && tag.lifetimeEnd.getTime() <= (services.now ?? Date.now)() ? tag.lifetimeEnd : null;
    for (const when of [tag.lifetimeStart, ended]) {
      if (when !== null && (latest === null || epochSeconds(when) > latest)) latest = epochSeconds(when);
    }
  }
  return latest;
}

/** Registers GET/POST /repository. */
export function repositoryListRoutes(app: FastifyInstance, services: AuthServices): void {
  route(app, services, {
    method: 'POST',
    url: slashed('/repository/'),
    access: 'user',
    handler: async (ctx) => {
      const body = parseBody(NewRepositoryBody, ctx.request.body);
      checkName(namespaceNameProblem(body.namespace));
      const full = `${body.namespace}/${body.repository}`;
      const problem = repositoryNameProblem(full);
      if (problem !== undefined) throw badRequest(problem);
      if (!(await services.policy.canCreateIn(ctx.identity, body.namespace))) {
        throw forbidden(`you may not create repositories in namespace ${JSON.stringify(body.namespace)}`);
      }
      if ((await services.metadata.repositories.getRepository(full)) !== undefined) throw badRequest('Repository already exists');
      // The creator applies Quay's creation rules and writes the create_repo audit row itself.
      const repository = await services.creator.ensure(ctx.identity, full, { visibility: body.visibility, clientAddress: ctx.address });
      if (body.description !== undefined && body.description !== null) {
        await services.metadata.repositories.setDescription(repository.id, body.description);
      }
      const split = splitRepositoryName(repository.name);
      return created({ namespace: split.namespace, name: split.name, kind: 'image' });
    },
  });

  route(app, services, {
    method: 'GET',
    url: slashed('/repository/'),
    access: 'public',
    handler: async (ctx) => {
      const query = parseQuery(ListQuery, ctx.request.query);
      const identity = ctx.identity;
      if (identity.kind === 'anonymous' && !services.options.anonymousAccess) throw unauthorized();
      if (query.namespace !== undefined) checkName(namespaceNameProblem(query.namespace));
      // Stars are not kept: the starred view is empty.
      if (query.starred === true) return ok({ repositories: [] });
      const viewer =
        identity.kind === 'user'
          ? { accountId: identity.id, superuser: identity.superuser, includePublic: query.public === true }
          : { superuser: false, includePublic: true };
      const names = await services.accounts.permissions.listVisibleRepositories(viewer, {
        namespace: query.namespace,
        last: query.next_page,
        limit: LIST_PAGE + 1,
      });
      const page = names.slice(0, LIST_PAGE);
      const records = await Promise.all(page.map((name) => services.metadata.repositories.getRepository(name)));
      const present = records.filter((record): record is RepositoryRecord => record !== undefined && record.name.includes('/'));
      const modified = query.last_modified === true ? await Promise.all(present.map((record) => lastModified(services, record))) : undefined;
      // Quay reports a repository's size as quota_report.quota_bytes; here: the distinct blobs it links.
      const sizes = query.quota === true ? await services.metadata.blobs.linkedBytes(present.map((record) => record.id)) : undefined;
      const repositories = present.map((record, i) => {
        const split = splitRepositoryName(record.name);
        return {
          namespace: split.namespace,
          name: split.name,
          description: record.description,
          is_public: record.visibility === 'public',
          kind: 'image',
          state: 'NORMAL',
          ...(modified === undefined ? {} : { last_modified: modified[i] ?? null }),
          ...(sizes === undefined ? {} : { quota_report: { quota_bytes: sizes.get(record.id) ?? 0, configured_quota: null } }),
        };
      });
      return ok({ repositories, ...(names.length > LIST_PAGE ? { next_page: page[page.length - 1] } : {}) });
    },
  });
}

/** GET/PUT/DELETE /repository/{repo} and POST /repository/{repo}/changevisibility. */
export const repositoryResourceRoutes: RepositoryRouteTable = {
  'GET repository': {
    access: 'repository:read',
    handler: async (ctx) => {
      const { repository, role } = ctx;
      const split = splitRepositoryName(repository.name);
      const namespace = await ctx.services.accounts.accounts.getAccount(split.namespace);
      const history = await ctx.services.metadata.tags.tagHistory(repository.id);
      const now = (ctx.services.now ?? Date.now)();
      const tags = Object.fromEntries(
        history
          .filter((tag) => isCurrentTag(tag, now))
          .map((tag) => [tag.name, { name: tag.name, manifest_digest: tag.manifestDigest, start_ts: epochSeconds(tag.lifetimeStart), last_modified: quayDate(tag.lifetimeStart) }]),
      );
      return ok({
        namespace: split.namespace,
        name: split.name,
        kind: 'image',
        description: repository.description,
        is_public: repository.visibility === 'public',
        is_organization: namespace?.kind === 'organization',
        // Quay's namespace_user_removed_tag_expiration_s: how long deleted tags here can be restored.
        tag_expiration_s:
          (namespace !== undefined && namespace.kind !== 'robot' ? await ctx.services.accounts.accounts.getTagExpiration(namespace.id) : null) ??
          ctx.services.options.tagExpiration.defaultS,
        is_starred: false,
        can_write: roleAtLeast(role, 'write'),
        can_admin: roleAtLeast(role, 'admin'),
        trust_enabled: false,
        state: 'NORMAL',
        created: quayDate(repository.createdAt),
        tags,
      });
    },
  },
  'PUT repository': {
    access: 'repository:admin',
    handler: async (ctx) => {
      const { repository } = ctx;
      const body = parseBody(DescriptionBody, ctx.request.body);
      await ctx.services.metadata.repositories.setDescription(repository.id, body.description);
      auditRepository(ctx, 'set_repo_description', repository.name, { description: body.description });
      return ok({ success: true });
    },
  },
  'DELETE repository': {
    access: 'repository:admin',
    handler: async (ctx) => {
      const { repository } = ctx;
      await ctx.services.metadata.repositories.deleteRepository(repository.id);
      auditRepository(ctx, 'delete_repo', repository.name);
      return noContent();
    },
  },
  'POST changevisibility': {
    access: 'repository:admin',
    handler: async (ctx) => {
      const { repository } = ctx;
      const body = parseBody(VisibilityBody, ctx.request.body);
      await ctx.services.metadata.repositories.setVisibility(repository.id, body.visibility);
      auditRepository(ctx, 'change_repo_visibility', repository.name, { visibility: body.visibility });
      return ok({ success: true });
    },
  },
};
