import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseDigest } from '../oci/digest.js';
import { isValidTag, repositoryNameProblem } from '../oci/names.js';
import type { RouteAccess } from './access.js';
import type { RegistryDeps, RegistryOptions, RouteHandler } from './context.js';
import { RegistryError } from './errors.js';
import { pathOf } from './url.js';
import { getBase } from './base.js';
import { getCatalog } from './catalog.js';
import { deleteManifest, getManifest, headManifest, putManifest } from './manifests.js';
import { listTags } from './tags.js';
import { getReferrers } from './referrers.js';
import { deleteBlob, getBlob, headBlob } from './blobs.js';
import { cancelUpload, getUploadStatus, patchUpload, putUpload, startUpload } from './uploads.js';

/**
 * The one named route table of the /v2 API (as distribution's routes.go) and its dispatcher.
 * Repository names contain slashes, so a path is matched from the right on the known suffixes;
 * every parameter is validated here, before any handler runs.
 */

export type RouteMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/** The path shapes of the API; `<name>` may contain slashes, the others never do. */
export type RoutePattern =
  | '/v2/'
  | '/v2/_catalog'
  | '/v2/<name>/manifests/<reference>'
  | '/v2/<name>/blobs/<digest>'
  | '/v2/<name>/blobs/uploads/'
  | '/v2/<name>/blobs/uploads/<uuid>'
  | '/v2/<name>/tags/list'
  | '/v2/<name>/referrers/<digest>';

export interface RouteDefinition {
  /** Stable name for logs, metrics and docs. */
  name: string;
  method: RouteMethod;
  pattern: RoutePattern;
  handler: RouteHandler;
  /** What the caller's token must allow before the handler runs (Quay's policy stack, in one visible place). */
  access: RouteAccess;
  /** Feature switch: when it answers false the route does not exist (404). */
  enabled?: (options: RegistryOptions) => boolean;
}

/**
 * Every /v2 route with the access it needs: `base` is any valid token (so that an unauthenticated GET /v2/
 * answers 401 and clients learn where to log in), `catalog` any valid token too (the handler lists what the
 * token's identity may see, as Quay does; the challenge still names registry:catalog:*), pull/push/delete an
 * action on the route's repository.
 * HEAD is listed explicitly where the spec defines it.
 */
export const ROUTES: readonly RouteDefinition[] = Object.freeze([
  { name: 'base', method: 'GET', pattern: '/v2/', access: 'base', handler: getBase },
  { name: 'base', method: 'HEAD', pattern: '/v2/', access: 'base', handler: getBase },
  { name: 'catalog', method: 'GET', pattern: '/v2/_catalog', access: 'catalog', handler: getCatalog },
  { name: 'manifest.get', method: 'GET', pattern: '/v2/<name>/manifests/<reference>', access: 'pull', handler: getManifest },
  { name: 'manifest.head', method: 'HEAD', pattern: '/v2/<name>/manifests/<reference>', access: 'pull', handler: headManifest },
  { name: 'manifest.put', method: 'PUT', pattern: '/v2/<name>/manifests/<reference>', access: 'push', handler: putManifest },
  { name: 'manifest.delete', method: 'DELETE', pattern: '/v2/<name>/manifests/<reference>', access: 'delete', handler: deleteManifest },
  { name: 'blob.get', method: 'GET', pattern: '/v2/<name>/blobs/<digest>', access: 'pull', handler: getBlob },
  { name: 'blob.head', method: 'HEAD', pattern: '/v2/<name>/blobs/<digest>', access: 'pull', handler: headBlob },
  { name: 'blob.delete', method: 'DELETE', pattern: '/v2/<name>/blobs/<digest>', access: 'delete', handler: deleteBlob },
  { name: 'upload.start', method: 'POST', pattern: '/v2/<name>/blobs/uploads/', access: 'push', handler: startUpload },
  { name: 'upload.patch', method: 'PATCH', pattern: '/v2/<name>/blobs/uploads/<uuid>', access: 'push', handler: patchUpload },
  { name: 'upload.put', method: 'PUT', pattern: '/v2/<name>/blobs/uploads/<uuid>', access: 'push', handler: putUpload },
  { name: 'upload.status', method: 'GET', pattern: '/v2/<name>/blobs/uploads/<uuid>', access: 'push', handler: getUploadStatus },
  { name: 'upload.cancel', method: 'DELETE', pattern: '/v2/<name>/blobs/uploads/<uuid>', access: 'push', handler: cancelUpload },
  { name: 'tags.list', method: 'GET', pattern: '/v2/<name>/tags/list', access: 'pull', handler: listTags },
  {
    name: 'referrers',
    method: 'GET',
    pattern: '/v2/<name>/referrers/<digest>',
    access: 'pull',
    handler: getReferrers,
    enabled: (options) => options.referrersApi,
  },
]);

/** A path split into its pattern and raw (still unvalidated) parameters. */
export interface ParsedPath {
  pattern: RoutePattern;
  name: string;
  params: Record<string, string>;
}

/**
 * Splits a /v2 path into a pattern and parameters, matching the known suffixes from the right,
 * so that "a/blobs/b/manifests/latest" is the manifest "latest" of the repository "a/blobs/b".
 * Returns undefined when the path has none of the known shapes.
 */
export function parseV2Path(path: string): ParsedPath | undefined {
  if (path === '/v2' || path === '/v2/') return { pattern: '/v2/', name: '', params: {} };
  if (path === '/v2/_catalog') return { pattern: '/v2/_catalog', name: '', params: {} };
  if (!path.startsWith('/v2/')) return undefined;
  const segments = path.slice('/v2/'.length).split('/');
  const n = segments.length;
  const last = segments[n - 1] ?? '';
  const second = segments[n - 2];
  const third = segments[n - 3];
  const nameBefore = (count: number) => segments.slice(0, n - count).join('/');

  // POST /v2/<name>/blobs/uploads/ (the trailing slash is optional in practice).
  if (last === '' && second === 'uploads' && third === 'blobs' && n >= 4) {
    return { pattern: '/v2/<name>/blobs/uploads/', name: nameBefore(3), params: {} };
  }
  if (n < 3 || last === '') return undefined;
  if (second === 'uploads' && third === 'blobs' && n >= 4) {
    return { pattern: '/v2/<name>/blobs/uploads/<uuid>', name: nameBefore(3), params: { uuid: last } };
  }
  if (second === 'blobs' && last === 'uploads') {
    return { pattern: '/v2/<name>/blobs/uploads/', name: nameBefore(2), params: {} };
  }
  if (second === 'manifests') {
    return { pattern: '/v2/<name>/manifests/<reference>', name: nameBefore(2), params: { reference: last } };
  }
  if (second === 'blobs') return { pattern: '/v2/<name>/blobs/<digest>', name: nameBefore(2), params: { digest: last } };
  if (second === 'tags' && last === 'list') return { pattern: '/v2/<name>/tags/list', name: nameBefore(2), params: {} };
  if (second === 'referrers') {
    return { pattern: '/v2/<name>/referrers/<digest>', name: nameBefore(2), params: { digest: last } };
  }
  return undefined;
}

/** Percent-decodes one path segment; a malformed escape is the caller's 400. */
function decodeSegment(raw: string, code: 'DIGEST_INVALID' | 'MANIFEST_INVALID' | 'BLOB_UPLOAD_INVALID'): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new RegistryError(code, undefined, { value: raw.slice(0, 300), reason: 'malformed percent-encoding' });
  }
}

function checkDigest(raw: string): string {
  const value = decodeSegment(raw, 'DIGEST_INVALID');
  if (parseDigest(value) === undefined) {
    throw new RegistryError('DIGEST_INVALID', 'invalid digest', {
      digest: value.slice(0, 300),
      reason: 'expected sha256:<64 lowercase hex> or sha512:<128 lowercase hex>',
    });
  }
  return value;
}

/**
 * A reference with a colon is a digest (tags cannot hold one); anything else must be a valid tag when it is
 * written (PUT). A read or delete of a reference that is no valid tag is passed on: no manifest can have that
 * name, so the handler answers 404 MANIFEST_UNKNOWN after the access check, as the conformance suite expects.
 */
function checkReference(raw: string, writing: boolean): string {
  const value = decodeSegment(raw, 'MANIFEST_INVALID');
  if (value.includes(':')) return checkDigest(value);
  if (writing && !isValidTag(value)) {
    throw new RegistryError('MANIFEST_INVALID', 'invalid tag', {
      tag: value.slice(0, 300),
      reason: 'tags match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}',
    });
  }
  return value;
}

const UUID_RE = /^[A-Za-z0-9_-]{1,128}$/;

function checkUuid(raw: string): string {
  if (!UUID_RE.test(raw)) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', 'invalid upload id', { uuid: raw.slice(0, 300) });
  }
  return raw;
}

/** A matched, validated request. */
export interface RouteMatch {
  route: RouteDefinition;
  name: string;
  params: Record<string, string>;
}

/**
 * Finds the route for a method and URL and validates its parameters.
 * Throws RegistryError: NOT_FOUND, METHOD_NOT_ALLOWED, NAME_INVALID, DIGEST_INVALID, ...
 */
export function matchRoute(method: string, url: string, options: RegistryOptions): RouteMatch {
  // A pull repeats the same few URLs (a manifest, the same layers HEADed again): the validated match is pure
  // in (method, url, options), so it is kept per process, keyed per options object. Refusals are not kept.
  let matches = recentMatches.get(options);
  if (matches === undefined) {
    matches = new Map();
    recentMatches.set(options, matches);
  }
  const key = `${method} ${url}`;
  const known = matches.get(key);
  if (known !== undefined) return known;
  // Shared by every request of that URL: frozen, so no handler can change another's parameters.
  const match = validatedMatch(method, url, options);
  Object.freeze(match.params);
  Object.freeze(match);
  if (matches.size >= MAX_RECENT_MATCHES) matches.clear();
  matches.set(key, match);
  return match;
}

/** Routes matched recently, by options object (the process's one, or a test's). */
const recentMatches = new WeakMap<RegistryOptions, Map<string, RouteMatch>>();
/** Enough for the hot URLs of many concurrent pulls; cleared wholesale when full (cheap, and rare). */
const MAX_RECENT_MATCHES = 4096;

function validatedMatch(method: string, url: string, options: RegistryOptions): RouteMatch {
  const path = pathOf(url);
  const parsed = parseV2Path(path);
  const candidates = parsed
    ? ROUTES.filter((r) => r.pattern === parsed.pattern && (r.enabled === undefined || r.enabled(options)))
    : [];
  if (parsed === undefined || candidates.length === 0) {
    throw new RegistryError('NOT_FOUND', `no route for ${path.slice(0, 300)}`);
  }
  const route = candidates.find((r) => r.method === method);
  if (route === undefined) {
    const allow = [...new Set(candidates.map((r) => r.method))].join(', ');
    throw new RegistryError('METHOD_NOT_ALLOWED', `method ${method} is not allowed here`, undefined, { Allow: allow });
  }
  if (parsed.pattern !== '/v2/' && parsed.pattern !== '/v2/_catalog') {
    const problem = repositoryNameProblem(parsed.name);
    if (problem !== undefined) throw new RegistryError('NAME_INVALID', undefined, problem);
  }
  const params: Record<string, string> = {};
  for (const [key, raw] of Object.entries(parsed.params)) {
    if (key === 'digest') params[key] = checkDigest(raw);
    else if (key === 'reference') params[key] = checkReference(raw, route.method === 'PUT');
    else if (key === 'uuid') params[key] = checkUuid(raw);
  }
  return { route, name: parsed.name, params };
}

/** Routes one /v2 request to its handler. */
export async function dispatch(deps: RegistryDeps, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const match = matchRoute(request.method, request.url, deps.options);
  const grant = await deps.access.authorize(request, match.route.access, match.name);
  await match.route.handler({ deps, name: match.name, params: match.params, grant, request, reply });
}
