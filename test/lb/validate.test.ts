// Validation: every kind of bad input gets a clear `origin: key.path: message` error, good input gets defaults.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LbConfigError } from '../../src/lb/errors.js';
import type { LoadBalancerModel } from '../../src/lb/model.js';
import { render } from '../../src/lb/render.js';
import { documentFromEtcd } from '../../src/lb/sources/etcd.js';
import { parseYamlSource } from '../../src/lb/sources/yaml-file.js';
import { buildModel } from '../../src/lb/validate.js';
import { isCryptHash, parseBasicAuthLine } from '../../src/lb/validate-service.js';
import { REPO_ROOT } from '../helpers/processes.js';

const FIXTURES = join(REPO_ROOT, 'test/lb/fixtures');
const pem = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

function model(yaml: string): LoadBalancerModel {
  return buildModel(parseYamlSource(yaml, 'lb.yaml'));
}

/** The error lines `yaml` produces (the test fails if it is accepted). */
function errors(yaml: string): string[] {
  try {
    model(yaml);
  } catch (error) {
    assert.ok(error instanceof LbConfigError, `expected LbConfigError, got ${String(error)}`);
    return error.message.split('\n');
  }
  assert.fail('the configuration was accepted');
}

function assertError(yaml: string, expected: string | RegExp): void {
  const lines = errors(yaml);
  const found = lines.some((line) => (typeof expected === 'string' ? line === expected : expected.test(line)));
  assert.ok(found, `no error matching ${String(expected)} in:\n${lines.join('\n')}`);
}

const svc = (body: string) => `services:\n  web:\n    internal_port: 80\n${body.replace(/^/gm, '    ')}\n`;

describe('validate: defaults', () => {
  it('fills every default and normalises names', () => {
    const m = model(svc('virtual_hosts: WWW.Example.com, *.Example.org\nvirtual_paths: [/api/]\nbalance: leastcon\nbackends: [10.0.0.1, "10.0.0.2:81", "[::1]:82"]'));
    assert.equal(m.loadBalancer.name, 'quayside');
    assert.deepEqual(m.loadBalancer.httpPorts, [80]);
    assert.equal(m.loadBalancer.httpsPort, null);
    assert.equal(m.loadBalancer.httpIgnoreProbes, true);
    assert.equal(m.loadBalancer.hardStopAfterMs, 30_000);
    assert.equal(m.loadBalancer.stats, null);
    assert.equal(m.loadBalancer.sslMinVersion, 'TLSv1.2');
    assert.match(m.loadBalancer.sslCiphers, /^ECDHE-ECDSA-AES128-GCM-SHA256:/);
    const [web] = m.services;
    assert.ok(web !== undefined);
    assert.equal(web.balance, 'leastconn');
    assert.equal(web.mode, 'http');
    assert.equal(web.origin, 'lb.yaml');
    assert.deepEqual(web.virtualHosts, ['www.example.com', '*.example.org']);
    assert.deepEqual(web.virtualPaths, ['/api']);
    assert.deepEqual(web.backends, [
      { name: '10.0.0.1_80', address: '10.0.0.1', port: 80 },
      { name: '10.0.0.2_81', address: '10.0.0.2', port: 81 },
      { name: '__1_82', address: '::1', port: 82 },
    ]);
  });

  it('accepts durations in HAProxy units and certificates in order', () => {
    const m = model(
      `load_balancer:\n  hard_stop_after: 2m\n  timeouts: { connect: 250ms, tunnel: 1h }\n  certificates:\n    - pem: ${JSON.stringify(pem('b.test.pem'))}\n    - { name: a, pem: ${JSON.stringify(pem('a.test.pem'))} }\n`,
    );
    assert.equal(m.loadBalancer.hardStopAfterMs, 120_000);
    assert.equal(m.loadBalancer.timeouts.connect, 250);
    assert.equal(m.loadBalancer.timeouts.tunnel, 3_600_000);
    assert.equal(m.loadBalancer.httpsPort, 443);
    assert.deepEqual(m.loadBalancer.certificates.map((c) => [c.name, c.hostnames]), [['cert-1', ['b.test']], ['a', ['*.a.test', 'a.test']]]);
  });
});

describe('validate: where the balancer listens', () => {
  it('binds 127.0.0.1 by default, like quayside serve, for the frontends and the stats page', () => {
    const m = model('load_balancer: { stats: { port: 1936, password: a-long-own-passphrase } }');
    assert.equal(m.loadBalancer.bindAddress, '127.0.0.1');
    assert.equal(m.loadBalancer.stats?.bindAddress, '127.0.0.1');
    assert.match(render(m, { adminSocket: '/run/a.sock', certDir: '/etc/certs' }), /^    bind 127\.0\.0\.1:80$/m);
  });
  it('binds where bind_address says, every interface with *', () => {
    const m = model('load_balancer: { bind_address: "*", stats: { port: 1936, password: a-long-own-passphrase } }');
    assert.equal(m.loadBalancer.bindAddress, '*');
    assert.equal(m.loadBalancer.stats?.bindAddress, '*');
    assert.match(render(m, { adminSocket: '/run/a.sock', certDir: '/etc/certs' }), /^    bind \*:80$/m);
  });
});

describe('validate: certificates given by file path', () => {
  it('reads pem: <path> relative to the YAML file, and an absolute path, as the PEM text', () => {
    const m = buildModel(
      parseYamlSource(`load_balancer:\n  certificates:\n    - { name: b, pem: b.test.pem }\n    - { name: a, pem: ${join(FIXTURES, 'a.test.pem')} }\n`, join(FIXTURES, 'lb.yaml')),
    );
    assert.deepEqual(m.loadBalancer.certificates.map((c) => [c.name, c.pem]), [['b', pem('b.test.pem')], ['a', pem('a.test.pem')]]);
  });
  it('reports the files it read, for the watch that applies renewals', () => {
    const document = parseYamlSource(`load_balancer:\n  certificates:\n    - { pem: b.test.pem }\n    - { file: ./a.test.pem }\n`, join(FIXTURES, 'lb.yaml'));
    assert.deepEqual(document.files, [join(FIXTURES, 'b.test.pem'), join(FIXTURES, 'a.test.pem')]);
  });
  it('refuses a relative path in etcd, where there is no file to be relative to', () => {
    assert.throws(
      () => documentFromEtcd(new Map([['/q/lb', '{"certificates":[{"pem":"site.pem"}]}']]), '/q/'),
      /\/q\/lb: load_balancer\.certificates\.0\.pem: must be the PEM text or an absolute file path \(got "site\.pem"\)$/m,
    );
  });
});

describe('validate: errors name the file, the key and the problem', () => {
  it('bad balance', () => assertError(svc('balance: random'), 'lb.yaml: services.web.balance: must be one of roundrobin, source, leastconn'));
  it('bad mode', () => assertError(svc('mode: udp'), 'lb.yaml: services.web.mode: must be one of http, tcp'));
  it('port 0', () => assertError('services:\n  web: { internal_port: 0 }', 'lb.yaml: services.web.internal_port: must be a port number (1-65535)'));
  it('port 70000', () => assertError('load_balancer: { http_ports: [70000] }', /^lb\.yaml: load_balancer\.http_ports(\.0)?: must be a/));
  it('port as a string', () => assertError('services:\n  web: { internal_port: "80" }', 'lb.yaml: services.web.internal_port: must be a port number (1-65535)'));
  it('missing internal_port', () => assertError('services:\n  web: { mode: http }', 'lb.yaml: services.web.internal_port: is required'));
  it('unknown service key', () => assertError(svc('balanse: source'), 'lb.yaml: services.web.balanse: unknown key'));
  it('unknown balancer key', () => assertError('load_balancer: { http_port: 80 }', 'lb.yaml: load_balancer.http_port: unknown key'));
  it('unknown nested key', () => assertError(svc('health_check: { url: /x }'), 'lb.yaml: services.web.health_check.url: unknown key'));
  it('unknown top-level key', () => assertError('servics: {}', 'lb.yaml: servics: unknown key'));
  it('bad service name', () => assertError('services:\n  "we b": { internal_port: 80 }', /^lb\.yaml: services\.we b: service name must match/));
  it('bad duration', () => assertError('load_balancer: { hard_stop_after: soon }', /^lb\.yaml: load_balancer\.hard_stop_after: must be a duration/));
  it('broken YAML', () => assertError('services: [', /^lb\.yaml: YAML: /));

  it('stats without password', () =>
    assertError('load_balancer: { stats: { port: 1936 } }', 'lb.yaml: load_balancer.stats.password: is required when stats are enabled (there is no default password)'));
  for (const example of ['change-me', 'changeme', 'Password', 'admin', 'secret']) {
    it(`stats with the example password ${example}`, () =>
      assertError(`load_balancer: { stats: { port: 1936, password: ${example} } }`, new RegExp(`^lb\\.yaml: load_balancer\\.stats\\.password: "${example}" is a well-known example password; choose your own`)));
  }
  it('stats disabled needs no password', () => assert.equal(model('load_balancer: { stats: { enabled: false } }').loadBalancer.stats, null));

  it('PEM without private key', () =>
    assertError(`load_balancer:\n  certificates: [{ name: only, pem: ${JSON.stringify(pem('cert-only.pem'))} }]`, /^lb\.yaml: load_balancer\.certificates\.0: certificate only contains no private key/));
  it('PEM with a key of another certificate', () =>
    assertError(`load_balancer:\n  certificates: [{ pem: ${JSON.stringify(pem('mismatched.pem'))} }]`, /certificate cert-1 has a private key that does not match its certificate/));
  it('PEM that is not PEM', () =>
    assertError('load_balancer:\n  certificates: [{ pem: "-----BEGIN NOTHING-----\\nx\\n-----END NOTHING-----" }]', /certificate cert-1 contains no certificate/));
  it('PEM path that does not exist', () =>
    assertError('load_balancer:\n  certificates: [{ pem: missing.pem }]', /^lb\.yaml: load_balancer\.certificates\.0\.pem: cannot read certificate file \/\S*\/missing\.pem: ENOENT$/));
  it('pem and file together', () =>
    assertError('load_balancer:\n  certificates: [{ pem: a.pem, file: b.pem }]', 'lb.yaml: load_balancer.certificates.0.file: give either pem or file, not both'));
  it('https port without certificates', () => assertError('load_balancer: { https_port: 8443 }', 'lb.yaml: load_balancer.https_port: needs at least one certificate (certificates)'));
  it('redirect_https without https', () => assertError(svc('redirect_https: true'), /^lb\.yaml: services\.web\.redirect_https: needs an https frontend/));
  it('hsts without https', () => assertError(svc('hsts: true'), /^lb\.yaml: services\.web\.hsts: needs an https frontend/));

  it('bad crypt hash', () => assertError(svc('basic_auth: ["user bob password secret"]'), /^lb\.yaml: services\.web\.basic_auth: user bob: the password is not a crypt\(3\) hash/));
  it('malformed basic auth line', () => assertError(svc('basic_auth: "usr bob insecure-password x"'), /^lb\.yaml: services\.web\.basic_auth: "usr bob insecure-password x" must be/));
  it('duplicate basic auth user', () => assertError(svc('basic_auth: "user a insecure-password x\\nuser a insecure-password y"'), 'lb.yaml: services.web.basic_auth: user a is declared twice'));

  it('tcp service without external port', () =>
    assertError('services:\n  db: { mode: tcp, internal_port: 5432 }', 'lb.yaml: services.db.external_port: is required for a tcp service (the port its frontend listens on)'));
  it('http-only keys on a tcp service', () =>
    assertError('services:\n  db: { mode: tcp, internal_port: 5432, external_port: 5432, virtual_hosts: [a.test] }', 'lb.yaml: services.db.virtual_hosts: is only for http services'));
  it('external port on an http service', () => assertError(svc('external_port: 8080'), /^lb\.yaml: services\.web\.external_port: is only for tcp services/));
  it('two services on one external port', () =>
    assertError(
      'services:\n  a: { mode: tcp, internal_port: 1, external_port: 5000 }\n  b: { mode: tcp, internal_port: 1, external_port: 5000 }',
      'lb.yaml: services.b.external_port: port 5000 is already used by service a',
    ));
  it('a tcp service on the http port', () =>
    assertError('services:\n  a: { mode: tcp, internal_port: 1, external_port: 80 }', 'lb.yaml: services.a.external_port: port 80 is already used by load_balancer.http_ports'));
  it('stats on the http port', () =>
    assertError('load_balancer: { stats: { port: 80, password: x } }', 'lb.yaml: load_balancer.stats.port: port 80 is already used by load_balancer.http_ports'));

  it('duplicate host and path names both services', () =>
    assertError(
      'services:\n  a: { internal_port: 1, virtual_hosts: [x.test], virtual_paths: [/api] }\n  b: { internal_port: 1, virtual_hosts: [X.test], virtual_paths: [/api/] }',
      'lb.yaml: services.b.virtual_hosts: services a and b both claim host x.test, path /api',
    ));
  it('duplicate wildcard host', () =>
    assertError('services:\n  a: { internal_port: 1, virtual_hosts: ["*.x.test"] }\n  b: { internal_port: 1, virtual_hosts: ["*.x.test"] }', /services a and b both claim host \*\.x\.test, any path/));
  it('duplicate path-only route', () =>
    assertError('services:\n  a: { internal_port: 1, virtual_paths: [/p] }\n  b: { internal_port: 1, virtual_paths: [/p] }', 'lb.yaml: services.b.virtual_paths: services a and b both claim any host, path /p'));
  it('two default services', () =>
    assertError('services:\n  a: { internal_port: 1 }\n  b: { internal_port: 1 }', /^lb\.yaml: services\.b: services a and b both claim default service/));
  it('same host different paths is fine', () => {
    const m = model('services:\n  a: { internal_port: 1, virtual_hosts: [x.test], virtual_paths: [/a] }\n  b: { internal_port: 1, virtual_hosts: [x.test], virtual_paths: [/b] }');
    assert.equal(m.services.length, 2);
  });

  it('virtual host with a port', () => assertError(svc('virtual_hosts: [a.test:8080]'), /^lb\.yaml: services\.web\.virtual_hosts: "a\.test:8080": a virtual host has no port/));
  it('virtual host that is not a host', () => assertError(svc('virtual_hosts: ["a b"]'), /is not a host name or a \*\.domain wildcard/));
  it('virtual path without leading slash', () => assertError(svc('virtual_paths: [api]'), /^lb\.yaml: services\.web\.virtual_paths: "api" must start with \//));
  it('virtual path with a quote', () => assertError(svc(`virtual_paths: ["/it's"]`), /must start with \/ and contain only URL path characters/));

  it('bad backend address', () => assertError(svc('backends: [{ address: "not valid!" }]'), /^lb\.yaml: services\.web\.backends\.0\.address: "not valid!" is not an IP address or host name/));
  it('bad backend port', () => assertError(svc('backends: [{ address: 10.0.0.1, port: 0 }]'), /^lb\.yaml: services\.web\.backends\.0\.port: must be a port number/));
  it('duplicate backend name', () =>
    assertError(svc('backends: [{ name: a, address: 10.0.0.1 }, { name: a, address: 10.0.0.2 }]'), 'lb.yaml: services.web.backends.1.name: duplicate backend name "a" (also backends.0)'));
  it('duplicate backend address', () => assertError(svc('backends: [10.0.0.1, "10.0.0.1:80"]'), /^lb\.yaml: services\.web\.backends\.1: same address and port as backends\.0/));
  it('backend named like a spare slot', () => assertError(svc('backends: [{ name: slot-1, address: 10.0.0.1 }]'), /"slot-1" is reserved for spare slots/));

  it('custom line opening a section', () => assertError(svc('custom_settings: ["backend evil"]'), /^lb\.yaml: services\.web\.custom_settings\.0: must not open a new section/));
  it('send_proxy and send_proxy_v2 together', () => assertError(svc('send_proxy: true\nsend_proxy_v2: true'), /send_proxy and send_proxy_v2 are exclusive/));
  it('health check path on a tcp service', () =>
    assertError('services:\n  db: { mode: tcp, internal_port: 1, external_port: 9, health_check: { path: /x } }', /a tcp service checks connections only/));
  it('http service without any http port', () => assertError(`load_balancer: { http_ports: [] }\n${svc('')}`, /an http service needs load_balancer\.http_ports or an https frontend/));
  it('reports every issue, not only the first', () => assert.ok(errors(svc('balance: x\nmode: y\nbogus: 1')).length >= 3));
});

describe('validate: crypt hashes and userlist lines', () => {
  it('accepts the crypt(3) families HAProxy checks', () => {
    for (const hash of [
      '$1$abc$iCQ2D3nhptRYi27fDYv2s1',
      '$5$abcdefgh$gruCpC7VkOTspMQTTSAR8mtlO9Upms.fwqE5y16JVM.',
      '$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1',
      '$6$rounds=5000$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1',
      '$2y$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234',
      '$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234',
      'abNANd1rDfiNc',
    ]) {
      assert.ok(isCryptHash(hash), hash);
    }
  });
  it('refuses what is not a crypt hash', () => {
    for (const hash of ['secret', '$6$salt$short', '$2y$1$abc', '$7$abc$def', 'abNANd1rDfiN!', '']) assert.ok(!isCryptHash(hash), hash);
  });
  it('parses both kinds of user line', () => {
    assert.deepEqual(parseBasicAuthLine('user bob insecure-password pw'), { name: 'bob', kind: 'insecure-password', secret: 'pw' });
    assert.equal(typeof parseBasicAuthLine('user bob password'), 'string');
    assert.equal(typeof parseBasicAuthLine('user bob md5 x'), 'string');
  });
});
