import type { Page } from '../db/metadata.js';
import { RegistryError } from './errors.js';
import { queryOf } from './url.js';

/**
 * The `n` / `last` pagination shared by tag listing and the catalog. A page larger than
 * MAX_PAGE_SIZE is served as MAX_PAGE_SIZE entries plus a Link to the rest, which the spec allows.
 */

export const MAX_PAGE_SIZE = 1000;

export interface PageQuery {
  /** Requested page size; undefined when the client asked for everything. */
  n: number | undefined;
  /** Entries strictly after this one. */
  last: string | undefined;
}

/** Reads `n` and `last` from a request URL; a malformed `n` is PAGINATION_NUMBER_INVALID. */
export function parsePageQuery(url: string): PageQuery {
  const query = queryOf(url);
  const rawN = query.get('n');
  let n: number | undefined;
  if (rawN !== null) {
    if (!/^\d{1,15}$/.test(rawN)) {
      throw new RegistryError('PAGINATION_NUMBER_INVALID', undefined, { n: rawN.slice(0, 100) });
    }
    n = Number(rawN);
  }
  const last = query.get('last');
  return { n, last: last === null || last === '' ? undefined : last };
}

export interface PageResult {
  items: string[];
  /** Where the next page starts, when there is one. */
  next?: { n: number; last: string };
}

/** Fetches one page (or, without `n`, everything) through `fetchPage`, which lists entries after `last`. */
export async function collectPage(fetchPage: (page: Page) => Promise<string[]>, query: PageQuery): Promise<PageResult> {
  if (query.n === 0) return { items: [] };
  if (query.n === undefined) {
    const items: string[] = [];
    let last = query.last;
    for (;;) {
      const batch = await fetchPage({ last, limit: MAX_PAGE_SIZE });
      items.push(...batch);
      if (batch.length < MAX_PAGE_SIZE) return { items };
      last = batch[batch.length - 1];
    }
  }
  const size = Math.min(query.n, MAX_PAGE_SIZE);
  // One extra entry tells whether a next page exists without a count query.
  const batch = await fetchPage({ last: query.last, limit: size + 1 });
  if (batch.length <= size) return { items: batch };
  const items = batch.slice(0, size);
  return { items, next: { n: query.n, last: items[items.length - 1] ?? '' } };
}

/** The RFC 8288 Link header value pointing at the next page of `path`. */
export function nextPageLink(path: string, next: { n: number; last: string }): string {
  return `<${path}?n=${next.n}&last=${encodeURIComponent(next.last)}>; rel="next"`;
}
