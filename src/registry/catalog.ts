import type { RouteHandler } from './context.js';
import { collectPage, nextPageLink, parsePageQuery } from './pagination.js';

/** GET /v2/_catalog[?n=&last=]: repository names in lexical order, paginated with a Link header. */
export const getCatalog: RouteHandler = async ({ deps, request, reply }) => {
  const query = parsePageQuery(request.url);
  const page = await collectPage((p) => deps.metadata.repositories.listRepositories(p), query);
  if (page.next !== undefined) reply.header('Link', nextPageLink('/v2/_catalog', page.next));
  await reply.code(200).type('application/json').send({ repositories: page.items });
};
