import type { RouteHandler } from './context.js';
import { collectPage, nextPageLink, parsePageQuery } from './pagination.js';

/** GET /v2/_catalog[?n=&last=]: the names the caller may see in lexical order, paginated with a Link header. */
export const getCatalog: RouteHandler = async ({ deps, grant, request, reply }) => {
  const query = parsePageQuery(request.url);
  // Only what the caller may pull: the catalog must not reveal private repository names.
  const page = await collectPage((p) => deps.access.visibleRepositories(grant, p), query);
  if (page.next !== undefined) reply.header('Link', nextPageLink('/v2/_catalog', page.next));
  await reply.code(200).type('application/json').send({ repositories: page.items });
};
