// The kontena.yml mapping, merging sources, routing order, PEM bundle splitting and the watched YAML file.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { SourceUpdate } from '../../src/lb/document.js';
import { LbConfigError } from '../../src/lb/errors.js';
import type { ServiceModel } from '../../src/lb/model.js';
import { checkPemBundle, splitPemBundles } from '../../src/lb/pem.js';
import { computeRoutes, normaliseHost, normalisePath } from '../../src/lb/routing.js';
import { mergeDocuments, mergeSources } from '../../src/lb/sources/merge.js';
import { parseYamlSource, watchYamlFile } from '../../src/lb/sources/yaml-file.js';
import { buildModel } from '../../src/lb/validate.js';
import { REPO_ROOT } from '../helpers/processes.js';

const FIXTURES = join(REPO_ROOT, 'test/lb/fixtures');
const pem = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

function kontenaErrors(yaml: string): string[] {
  try {
    buildModel(parseYamlSource(yaml, 'kontena.yml'));
  } catch (error) {
    assert.ok(error instanceof LbConfigError);
    return error.message.split('\n');
  }
  assert.fail('accepted');
}

const lb = 'services:\n  lb:\n    image: kontena/lb:latest\n';

describe('kontena.yml', () => {
  it('maps the documented variables and links', () => {
    const m = buildModel(parseYamlSource(readFileSync(join(FIXTURES, 'models/02-kontena-stack.yaml'), 'utf8'), 'kontena.yml'));
    assert.equal(m.loadBalancer.name, 'internet_lb');
    assert.equal(m.loadBalancer.healthUri, '/__health');
    assert.deepEqual(m.loadBalancer.stats, { bindAddress: '127.0.0.1', port: 1000, user: 'stats', password: 's3cret', uri: '/' });
    assert.deepEqual(m.loadBalancer.defaultsLines, ['option http-server-close', 'option dontlognull']);
    assert.deepEqual(m.services.map((s) => s.name), ['api', 'galera', 'web'], 'worker is not linked, so not balanced');
    const [api, galera, web] = m.services as [ServiceModel, ServiceModel, ServiceModel];
    assert.equal(api.balance, 'leastconn');
    assert.deepEqual(api.virtualPaths, ['/api']);
    assert.deepEqual(api.customSettings, ['timeout server 2m']);
    assert.equal(galera.mode, 'tcp');
    assert.equal(galera.externalPort, 3306);
    assert.equal(web.cookie, 'SERVERID insert indirect nocache', 'an empty KONTENA_LB_COOKIE means the default cookie');
    assert.deepEqual(web.virtualHosts, ['www.kontena.io', 'kontena.io']);
  });

  it('reads SSL_CERTS with several bundles, ports and KONTENA_LB_SSL_CIPHERS', () => {
    const certs = pem('a.test.pem') + pem('b.test.pem');
    const yaml = `${lb}    ports: ["127.0.0.1:18080:80", "18443:443"]\n    environment:\n      SSL_CERTS: ${JSON.stringify(certs)}\n      KONTENA_LB_SSL_CIPHERS: ECDHE-RSA-AES128-GCM-SHA256\n`;
    const m = buildModel(parseYamlSource(yaml, 'kontena.yml'));
    assert.equal(m.loadBalancer.bindAddress, '127.0.0.1');
    assert.deepEqual(m.loadBalancer.httpPorts, [18080]);
    assert.equal(m.loadBalancer.httpsPort, 18443);
    assert.deepEqual(m.loadBalancer.certificates.map((c) => c.hostnames[0]), ['*.a.test', 'b.test']);
    assert.equal(m.loadBalancer.sslCiphers, 'ECDHE-RSA-AES128-GCM-SHA256');
  });

  it('names the environment variable in errors', () => {
    const lines = kontenaErrors(`${lb}  web:\n    image: x\n    links: [lb]\n    environment:\n      - KONTENA_LB_BALANCE=random\n      - KONTENA_LB_INTERNAL_PORT=abc\n      - KONTENA_LB_VIRTUAL_HOST=a.test\n`);
    assert.ok(lines.includes('kontena.yml: services.web.environment.KONTENA_LB_BALANCE: must be one of roundrobin, source, leastconn'), lines.join('\n'));
    assert.ok(lines.includes('kontena.yml: services.web.environment.KONTENA_LB_INTERNAL_PORT: must be a port number (1-65535)'), lines.join('\n'));
    assert.ok(lines.includes('kontena.yml: services.web.environment.KONTENA_LB_VIRTUAL_HOST: unknown Kontena load balancer variable'), lines.join('\n'));
  });

  it('refuses a stats port without STATS_PASSWORD, a PEM without key, unknown keys and vault secrets', () => {
    assert.ok(kontenaErrors(`${lb}    ports: ["1000:1000"]\n`).includes('kontena.yml: services.lb.environment.STATS_PASSWORD: is required when stats are enabled (there is no default password)'));
    assert.ok(kontenaErrors(`${lb}    environment:\n      SSL_CERTS: ${JSON.stringify(pem('cert-only.pem'))}\n`).some((l) => /^kontena\.yml: services\.lb\.environment\.SSL_CERTS\.0: certificate cert-1 contains no private key/.test(l)));
    assert.ok(kontenaErrors(`${lb}    imagee: x\n`).includes('kontena.yml: services.lb.imagee: unknown key'));
    assert.ok(kontenaErrors(`${lb}    secrets: [{ secret: X, name: SSL_CERTS, type: env }]\n`).some((l) => l.startsWith('kontena.yml: services.lb.secrets: vault secrets')));
  });

  it('needs exactly one balancer unless one is named', () => {
    assert.ok(kontenaErrors('services:\n  web: { image: nginx }\n').includes('kontena.yml: services: no load balancer service (image kontena/lb) found'));
    const two = 'services:\n  a: { image: kontena/lb }\n  b: { image: "registry.local/kontena/lb:1.0" }\n';
    assert.ok(kontenaErrors(two).some((l) => l.includes('several load balancer services (a, b)')));
    assert.equal(buildModel(parseYamlSource(two, 'k.yml', { lbName: 'b' })).loadBalancer.name, 'b');
  });
});

describe('merge', () => {
  const a = parseYamlSource('load_balancer: { name: one }\nservices:\n  web: { internal_port: 80 }\n', 'a.yaml');
  const b = parseYamlSource('services:\n  api: { internal_port: 80, virtual_paths: [/api] }\n', 'b.yaml');

  it('combines balancer settings and services from several sources', () => {
    const m = mergeSources([a, b]);
    assert.equal(m.loadBalancer.name, 'one');
    assert.deepEqual(m.services.map((s) => [s.name, s.origin]), [['api', 'b.yaml'], ['web', 'a.yaml']]);
  });
  it('refuses a service declared twice, naming both sources', () => {
    const c = parseYamlSource('services:\n  web: { internal_port: 81 }\n', 'c.yaml');
    assert.throws(() => mergeDocuments([a, c]), { message: 'c.yaml: services.web: service web is already declared by a.yaml' });
  });
  it('refuses balancer settings from two sources', () => {
    const d = parseYamlSource('load_balancer: { name: two }\n', 'd.yaml');
    assert.throws(() => mergeDocuments([a, d]), { message: /^d\.yaml: load_balancer: load balancer settings are already given by a\.yaml/ });
  });
  it('cross-checks the merged result (a route claimed in two sources)', () => {
    const e = parseYamlSource('services:\n  api2: { internal_port: 80, virtual_paths: [/api] }\n', 'e.yaml');
    assert.throws(() => mergeSources([a, b, e]), { message: /^e\.yaml: services\.api2\.virtual_paths: services api and api2 both claim any host, path \/api/ });
  });
});

describe('routing', () => {
  const service = (name: string, virtualHosts: string[], virtualPaths: string[]): ServiceModel => ({
    name, origin: 't', mode: 'http', balance: 'roundrobin', internalPort: 80, externalPort: null, virtualHosts, virtualPaths,
    keepVirtualPath: false, cookie: null, basicAuth: [], healthCheck: null, sendProxy: null, redirectHttps: false, hsts: null,
    customSettings: [], backends: [], spareSlots: 0,
  });
  it('orders tiers, longer paths and more specific hosts first', () => {
    const routes = computeRoutes([
      service('z-default', [], []),
      service('path-short', [], ['/a']),
      service('path-long', [], ['/a/b']),
      service('wild', ['*.x.test'], []),
      service('wild-deeper', ['*.eu.x.test'], []),
      service('exact', ['x.test'], []),
      service('host-path', ['*.x.test'], ['/a']),
    ]);
    assert.deepEqual(routes.map((r) => r.service), ['host-path', 'exact', 'wild-deeper', 'wild', 'path-long', 'path-short', 'z-default']);
  });
  it('normalises hosts and paths', () => {
    assert.deepEqual(normaliseHost(' A.Test '), { ok: true, host: 'a.test' });
    assert.equal(normaliseHost('*.*.test').ok, false);
    assert.equal(normaliseHost('-a.test').ok, false);
    assert.deepEqual(normalisePath('/api//'), { ok: false, message: '"/api//" must not contain //' });
    assert.deepEqual(normalisePath('/api/'), { ok: true, path: '/api' });
    assert.deepEqual(normalisePath('/'), { ok: true, path: '/' });
  });
});

describe('PEM bundles', () => {
  it('splits concatenated bundles after each private key', () => {
    const bundles = splitPemBundles(`${pem('a.test.pem')}\n${pem('b.test.pem')}${pem('cert-only.pem')}`);
    assert.equal(bundles.length, 3);
    assert.deepEqual(bundles.map((b) => checkPemBundle(b).ok), [true, true, false]);
  });
});

describe('watchYamlFile', () => {
  it('reports the initial model, errors (keeping quiet on identical content) and replaced files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quayside-watch-'));
    const file = join(dir, 'lb.yaml');
    const updates: SourceUpdate[] = [];
    let notify: (() => void) | null = null;
    const next = async (): Promise<SourceUpdate> => {
      const deadline = Date.now() + 10_000;
      while (updates.length === 0) {
        if (Date.now() > deadline) assert.fail('no update within 10s');
        await new Promise<void>((resolve) => {
          notify = resolve;
          setTimeout(resolve, 200);
        });
      }
      return updates.shift() as SourceUpdate;
    };
    // Settled changes the watcher read and found identical to the last one reported (so sent nothing).
    let unchangedExamined = 0;
    let notifyUnchanged: (() => void) | null = null;
    await writeFile(file, 'services:\n  web: { internal_port: 80 }\n');
    const watch = watchYamlFile(file, (update) => {
      updates.push(update);
      notify?.();
    }, {
      debounceMs: 30,
      onExamined: (outcome) => {
        if (outcome !== 'unchanged') return;
        unchangedExamined += 1;
        notifyUnchanged?.();
      },
    });
    try {
      const first = await next();
      assert.ok(first.ok && first.model.services[0]?.internalPort === 80);

      await writeFile(file, 'services:\n  web: { internal_port: 0 }\n');
      const broken = await next();
      assert.ok(!broken.ok);
      assert.match(broken.error.message, /lb\.yaml: services\.web\.internal_port: must be a port number/);

      // An editor's save: write a temporary file, rename it over the original.
      await writeFile(join(dir, '.lb.yaml.tmp'), 'services:\n  web: { internal_port: 8080 }\n');
      await rename(join(dir, '.lb.yaml.tmp'), file);
      const fixed = await next();
      assert.ok(fixed.ok && fixed.model.services[0]?.internalPort === 8080);

      const unchangedBefore = unchangedExamined;
      const examined = new Promise<void>((resolve, reject) => {
        const giveUp = setTimeout(() => reject(new Error('the identical write was not examined within 10s')), 10_000);
        notifyUnchanged = () => {
          clearTimeout(giveUp);
          resolve();
        };
      });
      await writeFile(file, 'services:\n  web: { internal_port: 8080 }\n');
      await examined;
      assert.ok(unchangedExamined > unchangedBefore);
      assert.equal(updates.length, 0, 'identical content is not reported again');
    } finally {
      watch.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
