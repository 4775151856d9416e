// How `quayside serve` serves the UI: index.html revalidated, hashed assets immutable and gzipped, the
// SPA fallback on the UI's paths only (the registry, API, health and v1 paths keep their own 404s), the
// security headers, and a page that says what to do when the UI was never built.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { startQuayside, type RegistryServer } from '../helpers/processes.js';
import { DEFAULT_UI_ROOT } from '../../src/web/ui-build.js';
import { isUiPath } from '../../src/web/ui-paths.js';
import { webUiPlugin } from '../../src/web/ui-routes.js';

describe('serving the web UI', () => {
  let server: RegistryServer;
  let script: string;

  before(async () => {
    const assets = await readdir(join(DEFAULT_UI_ROOT, 'assets'));
    const found = assets.find((name) => name.endsWith('.js'));
    assert.ok(found !== undefined, `the UI build has a script in ${DEFAULT_UI_ROOT}assets (npm run build makes it)`);
    script = found;
    server = await startQuayside({ user: false });
  });
  after(async () => {
    await server?.stop();
  });

  test('/ and UI paths answer index.html, revalidated on every load, under a CSP without inline script', async () => {
    for (const path of ['/', '/signin', '/repository/acme/app', '/repository/acme/tools/app?tab=history', '/account']) {
      const response = await fetch(`${server.url}${path}`);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', /^text\/html/, path);
      assert.equal(response.headers.get('cache-control'), 'no-cache', path);
      const csp = response.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'(;|$)/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      const html = await response.text();
      assert.match(html, new RegExp(`<script type="module" crossorigin src="/assets/${script.replace(/[.]/g, '\\.')}">`), path);
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, `${path}: no inline script`);
    }
  });

  test('hashed assets are immutable and sent gzipped to clients that accept it', async () => {
    const gz = await fetch(`${server.url}/assets/${script}`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(gz.headers.get('content-encoding'), 'gzip');
    assert.match(gz.headers.get('content-type') ?? '', /^text\/javascript/);
    const plain = await fetch(`${server.url}/assets/${script}`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.headers.get('content-encoding'), null);
    assert.ok((await plain.text()).length > 1000);
    const missing = await fetch(`${server.url}/assets/no-such-file.js`);
    assert.equal(missing.status, 404);
    const traversal = await fetch(`${server.url}/assets/..%2F..%2Fpackage.json`);
    assert.equal(traversal.status, 404);
  });

  test('registry, API, health and unknown paths keep their own 404s, never the UI page', async () => {
    const v2 = await fetch(`${server.url}/v2/acme/app/tags/listx`);
    assert.equal(v2.status, 404);
    assert.match(v2.headers.get('content-type') ?? '', /application\/json/);
    assert.ok(((await v2.json()) as { errors: unknown[] }).errors.length > 0, '/v2 answers OCI error JSON');
    const api = await fetch(`${server.url}/api/v1/no-such-endpoint`);
    assert.equal(api.status, 404);
    assert.equal(((await api.json()) as { error_type: string }).error_type, 'not_found');
    for (const path of ['/health/nothing', '/v1/nothing', '/nothing', '/repository/', '/index.html.gz']) {
      const response = await fetch(`${server.url}${path}`);
      assert.equal(response.status, 404, path);
      assert.match(response.headers.get('content-type') ?? '', /application\/json/, path);
    }
  });

  test('without a build, UI paths explain how to build it and the rest still works', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'quayside-no-ui-'));
    const app = Fastify({ logger: false });
    try {
      await app.register(webUiPlugin({ root: empty }));
      const page = await app.inject({ method: 'GET', url: '/repository/acme/app' });
      assert.equal(page.statusCode, 503);
      assert.match(page.body, /web UI is not built/);
      assert.match(page.body, /npm run build/);
      assert.equal(page.headers['cache-control'], 'no-store');
      assert.equal((await app.inject({ method: 'GET', url: '/v2/' })).statusCode, 404);
    } finally {
      await app.close();
      await rm(empty, { recursive: true, force: true });
    }
  });

  test('isUiPath names the UI pages and nothing else', () => {
    for (const path of ['/', '/signin', '/signup', '/new', '/account', '/repository/a/b', '/organization/acme', '/user/alice']) assert.equal(isUiPath(path), true, path);
    for (const path of ['/v2', '/v2/', '/api/v1/user/', '/health/instance', '/v1/_ping', '/repository/', '/repository', '/metrics', '/x']) {
      assert.equal(isUiPath(path), false, path);
    }
  });
});
