/**
 * The paths the web UI's client-side router answers, so that the server hands them index.html (a reload or
 * a shared link of a UI page must work). Only these are registered as routes: /v2, /api, /health, /v1 and
 * anything unknown keep their own 404s, and a typo in an API path never turns into an HTML page.
 */

/** Exact UI paths. */
export const UI_PAGES: readonly string[] = ['/', '/signin', '/signup', '/new', '/account', '/organizations', '/superuser'];

/** UI path prefixes followed by a name: /repository/<namespace>/<name>, /organization/<name>, /user/<name>, /superuser/<section>. */
export const UI_PREFIXES: readonly string[] = ['/repository/', '/organization/', '/user/', '/superuser/'];

/** True when `path` (no query string) is a page of the UI. */
export function isUiPath(path: string): boolean {
  if (UI_PAGES.includes(path)) return true;
  return UI_PREFIXES.some((prefix) => path.startsWith(prefix) && path.length > prefix.length);
}

/** The Fastify route patterns that cover exactly the UI's paths. */
export function uiRoutePatterns(): string[] {
  return [...UI_PAGES, ...UI_PREFIXES.map((prefix) => `${prefix}*`)];
}
