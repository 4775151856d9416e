import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { pathOf } from '../http/url.js';
import { loadUiBuild, type UiBuild, type UiFile } from './ui-build.js';
import { isUiPath, uiRoutePatterns } from './ui-paths.js';

/**
 * Serves the web UI at / on the same origin as /api/v1, so the session cookie (SameSite=Strict, HttpOnly)
 * is the browser's only credential and no token ever sits in a URL or in storage. Hashed assets are
 * immutable for a year; index.html is revalidated on every load so a new release is picked up at once.
 */

/** What the server needs to know about the UI: where its build is (default dist/web). */
export interface WebUiOptions {
  root?: string;
}

// No inline script or style anywhere in the build, so the policy can forbid both; the UI talks only to its
// own origin. frame-ancestors stops another site from framing the sign-in page (clickjacking).
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const IMMUTABLE = 'public, max-age=31536000, immutable';

function setPageHeaders(reply: FastifyReply): void {
  reply
    .header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'same-origin')
    .header('X-Frame-Options', 'DENY');
}

function acceptsGzip(request: FastifyRequest): boolean {
  const header = request.headers['accept-encoding'];
  return typeof header === 'string' && /\bgzip\b/i.test(header);
}

async function sendFile(request: FastifyRequest, reply: FastifyReply, file: UiFile, cacheControl: string): Promise<void> {
  setPageHeaders(reply);
  reply.header('Cache-Control', cacheControl).header('Vary', 'Accept-Encoding').type(file.contentType);
  if (file.gzip !== undefined && acceptsGzip(request)) {
    await reply.header('Content-Encoding', 'gzip').send(file.gzip);
    return;
  }
  await reply.send(file.body);
}

/** The page shown instead of the UI when this installation has no build of it. */
export function notBuiltPage(root: string): string {
  const escaped = root.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Quayside: web UI not built</title></head><body>',
    '<h1>The Quayside web UI is not built</h1>',
    `<p>This server found no UI build in <code>${escaped}</code>. Run <code>npm run build</code> (or <code>npm ci</code>) in the`,
    ' Quayside checkout, then restart <code>quayside serve</code>.</p>',
    '<p>The registry (<code>/v2/</code>) and the API (<code>/api/v1/</code>) work without it.</p>',
    '</body></html>',
  ].join('');
}

function uiRoutes(app: FastifyInstance, build: UiBuild): void {
  app.get('/assets/*', async (request, reply) => {
    const name = (request.params as Record<string, string | undefined>)['*'] ?? '';
    const file = build.assets.get(name);
    if (file === undefined) {
      await reply.code(404).header('Cache-Control', 'no-store').send({ error: 'not found' });
      return;
    }
    await sendFile(request, reply, file, IMMUTABLE);
  });
  const index = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    await sendFile(request, reply, build.index, 'no-cache');
  };
  // The SPA fallback, only for the UI's own paths (ui-paths.ts); everything else reaches its 404 handler.
  routeUiPaths(app, index);
}

/** Registers `handler` on every UI path; "/repository/" alone (no name) is left to the 404 handler. */
function routeUiPaths(app: FastifyInstance, handler: (request: FastifyRequest, reply: FastifyReply) => Promise<void>): void {
  for (const pattern of uiRoutePatterns()) {
    app.get(pattern, async (request, reply) => {
      if (!isUiPath(pathOf(request.url))) {
        reply.callNotFound();
        return;
      }
      await handler(request, reply);
    });
  }
}

function notBuiltRoutes(app: FastifyInstance, root: string): void {
  const page = notBuiltPage(root);
  const send = async (_request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    setPageHeaders(reply);
    await reply.code(503).header('Cache-Control', 'no-store').type('text/html; charset=utf-8').send(page);
  };
  routeUiPaths(app, send);
}

/** The UI's routes: the build read once now, or the "not built" page when there is none. */
export function webUiPlugin(options: WebUiOptions = {}): FastifyPluginAsync {
  return async function webUi(app: FastifyInstance): Promise<void> {
    const build = loadUiBuild(options.root);
    if (build === undefined) {
      app.log.warn({ root: options.root }, 'the web UI is not built: / shows how to build it');
      notBuiltRoutes(app, options.root ?? 'dist/web');
      return;
    }
    uiRoutes(app, build);
  };
}
