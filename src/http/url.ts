/** Splitting a raw request URL (as Fastify gives it) into path and query without resolving it against a host. */

/** The part of a request URL before the query string. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** The query string of a request URL as URLSearchParams (repeated keys kept). */
export function queryOf(url: string): URLSearchParams {
  const q = url.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
}
