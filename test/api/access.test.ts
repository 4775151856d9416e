import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { apiPlugin } from '../../src/api/plugin.js';
import { ACCESS_LEVELS, ACCESS_PARAMETERS, type Access, type RouteAccess } from '../../src/api/access.js';
import { REPOSITORY_ROUTES, type RepositoryRouteKey } from '../../src/api/repository-routes.js';
import { route } from '../../src/api/route.js';
import { startApi, type Api, type CallResult } from './harness.js';

/** An error answer in Quay's shape with this status; `where` names the request in a failure. */
function refused(res: CallResult, status: number, where: string): void {
  assert.equal(res.status, status, `${where}: expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  assert.equal(res.json.status, status, where);
  assert.equal(typeof res.json.error_message, 'string', where);
}

// The /api/v1 route table read from the running plugin: every route declares its access, and every
// declaration is enforced before the handler (a request with an empty body is refused for access, not
// for its body, which only the handler reads).

interface DeclaredRoute {
  method: string;
  url: string;
  access: Access | 'per-resource';
}

const PREFIX = '/api/v1';

// A path for each resource kind of the /repository/* table, on the private repository shop/app.
const RESOURCE_PATHS: Record<string, string> = {
  repository: '',
  changevisibility: '/changevisibility',
  logs: '/logs',
  tags: '/tag/',
  tag: '/tag/v1',
  restore: '/tag/v1/restore',
  manifest: `/manifest/sha256:${'0'.repeat(64)}`,
  tag_pull_statistics: '/tag/v1/pull_statistics',
  manifest_pull_statistics: `/manifest/sha256:${'0'.repeat(64)}/pull_statistics`,
  permissions: '/permissions/user/',
  permission: '/permissions/user/member',
};

/** A concrete path for a route's pattern: the organization shop, its team devs, anything else "x". */
function fill(url: string): string {
  return url
    .slice(PREFIX.length)
    .replace(':org', 'shop')
    .replace(':team', 'devs')
    .replace(/:[a-z]+/gi, 'x');
}

describe('/api/v1 access declarations', () => {
  let api: Api;
  const routes: DeclaredRoute[] = [];
  let outsider: string;
  let member: string;

  before(async () => {
    api = await startApi('sqlite', {}, (app) => {
      app.addHook('onRoute', (options) => {
        const methods = Array.isArray(options.method) ? options.method : [options.method];
        for (const method of methods) {
          if (method === 'HEAD') continue;
          routes.push({ method, url: options.url, access: options.config?.apiAccess as DeclaredRoute['access'] });
        }
      });
    });
    for (const name of ['owner', 'outsider', 'member']) await api.createUser(name, `${name}-password-1`);
    const owner = await api.appToken(await api.signIn('owner', 'owner-password-1'));
    outsider = await api.appToken(await api.signIn('outsider', 'outsider-password-1'));
    member = await api.appToken(await api.signIn('member', 'member-password-1'));
    const setup: Array<[string, string, unknown]> = [
      ['POST', '/organization/', { name: 'shop' }],
      ['PUT', '/organization/shop/team/devs', { role: 'member' }],
      ['PUT', '/organization/shop/team/devs/members/member', undefined],
      ['POST', '/repository', { namespace: 'shop', repository: 'app', visibility: 'private', description: '' }],
      ['PUT', '/repository/shop/app/permissions/user/member', { role: 'read' }],
    ];
    for (const [method, path, body] of setup) {
      const res = await api.call(method, path, { bearer: owner, body });
      assert.ok(res.status < 300, `${method} ${path}: ${JSON.stringify(res.body)}`);
    }
  });
  after(() => api?.close());

  it('has an access declaration on every route', () => {
    assert.ok(routes.length > 40, `read only ${routes.length} routes`);
    const known = new Set<string>([...Object.keys(ACCESS_LEVELS), 'per-resource']);
    for (const { method, url, access } of routes) {
      assert.ok(known.has(access), `${method} ${url} declares ${String(access)}`);
      if (access === 'per-resource') {
        assert.equal(url, `${PREFIX}/repository/*`);
      } else if (access in ACCESS_PARAMETERS) {
        for (const name of ACCESS_PARAMETERS[access as RouteAccess]) assert.ok(url.includes(`:${name}`), `${method} ${url} (${access}) has :${name}`);
      } else {
        assert.fail(`${method} ${url} declares the repository access ${access} outside the repository table`);
      }
    }
    const entries = Object.entries(REPOSITORY_ROUTES);
    assert.ok(entries.length >= 12);
    for (const [key, entry] of entries) {
      assert.match(entry!.access, /^repository:(read|write|admin)$/, key);
      assert.ok(key.split(' ')[1]! in RESOURCE_PATHS, `a test path for ${key}`);
    }
  });

  it('refuses a route registered without a declaration', async () => {
    const app = Fastify({ logger: false });
    let refusal: unknown;
    await app.register(
      async (instance) => {
        await apiPlugin(api.services)(instance, {});
        route(instance, api.services, { method: 'GET', url: '/declared', access: 'user', handler: async () => ({ status: 204 }) });
        try {
          instance.get('/undeclared', async () => 'unguarded');
        } catch (error) {
          refusal = error;
        }
      },
      { prefix: PREFIX },
    );
    await app.close();
    assert.match(String(refusal), /GET \/api\/v1\/undeclared declares no access/);
  });

  it('answers 401 to anonymous callers and 403 to outsiders on every guarded route, before the handler', async () => {
    let checked = 0;
    for (const { method, url, access } of routes) {
      if (access === 'per-resource' || access === 'public') continue;
      const path = fill(url);
      refused(await api.call(method, path, { body: {} }), 401, `${method} ${path}`);
      // The outsider calls with an app-specific token, which the session-only routes refuse too.
      if (access === 'superuser' || access === 'orgAdmin' || access === 'teamMember' || access === 'sessionUser') {
        refused(await api.call(method, path, { bearer: outsider, body: {} }), 403, `${method} ${path}`);
      }
      checked += 1;
    }
    assert.ok(checked > 30, `checked ${checked}`);
  });

  it('lets a team member see its team but not administer the organization', async () => {
    assert.equal((await api.call('GET', '/organization/shop/team/devs/members', { bearer: member })).status, 200);
    for (const { method, url, access } of routes) {
      if (access !== 'orgAdmin') continue;
      refused(await api.call(method, fill(url), { bearer: member, body: {} }), 403, `${method} ${url}`);
    }
  });

  it('applies each repository table entry its declared role', async () => {
    for (const [key, entry] of Object.entries(REPOSITORY_ROUTES)) {
      const [method, kind] = key.split(' ') as [string, string];
      const path = `/repository/shop/app${RESOURCE_PATHS[kind]}`;
      const where = `${key as RepositoryRouteKey} (${entry!.access})`;
      // A private repository: anonymous callers and outsiders cannot even tell that it exists.
      refused(await api.call(method, path, { body: {} }), 401, where);
      refused(await api.call(method, path, { bearer: outsider, body: {} }), 403, where);
      const asReader = await api.call(method, path, { bearer: member, body: {} });
      if (entry!.access === 'repository:read' && ['manifest', 'tag_pull_statistics', 'manifest_pull_statistics'].includes(kind)) {
        // The repository has no manifests or tags: the handler's own 404 shows that the guard let the reader through.
        assert.equal(asReader.status, 404, where);
        assert.match(asReader.json.error_message as string, /not found in this repository/, where);
      } else if (entry!.access === 'repository:read') {
        assert.equal(asReader.status, 200, `${where}: ${JSON.stringify(asReader.body)}`);
      } else {
        refused(asReader, 403, where);
        assert.match(asReader.json.error_message as string, /requires (write|admin) access/, where);
      }
    }
  });
});
