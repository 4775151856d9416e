import type { RouteHandler } from './context.js';
import { RegistryError } from './errors.js';
import { collectPage, nextPageLink, parsePageQuery } from './pagination.js';

/** GET /v2/<name>/tags/list[?n=&last=]: current tags in lexical order, paginated with a Link header. */
export const listTags: RouteHandler = async ({ deps, name, request, reply }) => {
  const query = parsePageQuery(request.url);
  const repository = await deps.metadata.repositories.getRepository(name);
  if (repository === undefined) throw new RegistryError('NAME_UNKNOWN', undefined, { name });
  const page = await collectPage((p) => deps.metadata.tags.listTags(repository.id, p), query);
  if (page.next !== undefined) reply.header('Link', nextPageLink(`/v2/${name}/tags/list`, page.next));
  await reply.code(200).type('application/json').send({ name, tags: page.items });
};
