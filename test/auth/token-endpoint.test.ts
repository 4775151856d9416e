import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { AuditLog } from '../../src/audit/audit-log.js';
import { buildAuthServices, type RunningAuthServices } from '../../src/auth/auth-services.js';
import { defaultAuthOptions } from '../../src/auth/options.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { parseBasicAuthorization, tokenEndpoint } from '../../src/auth/token-endpoint.js';
import type { AccountMetadata } from '../../src/db/account-metadata.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { cpuMicros } from '../helpers/cpu-time.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { auditRows, createRepository, createRobot, createUser, grant, MemoryLog } from './fixtures.js';

const SERVICE = 'registry.test';
const PASSWORD = 'alice password 1';
const ROBOT_TOKEN = 'robot-token-for-the-endpoint-test-0123456789';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

interface TokenBody {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
}

interface ErrorBody {
  errors: Array<{ code: string; message: string }>;
}

describe('parseBasicAuthorization', () => {
  it('accepts well-formed Basic credentials, passwords with colons included', () => {
    assert.deepEqual(parseBasicAuthorization(basic('alice', 'pa:ss')), { username: 'alice', password: 'pa:ss' });
    assert.deepEqual(parseBasicAuthorization(`basic ${Buffer.from('a:').toString('base64')}`), { username: 'a', password: '' });
  });

  it('refuses everything else', () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    for (const header of ['Bearer abc', 'Basic', 'Basic ', 'Basic !!!!', `Basic ${b64('nocolon')}`, `Basic ${b64(':pw')}`, `Basic ${b64('a:b')}x`, 'Basic YQ', 'Digest username="a"', `Basic ${b64('a:b')}\u0000`, `Basic ${'A'.repeat(9000)}`]) {
      assert.equal(parseBasicAuthorization(header), undefined, header.slice(0, 40));
    }
    // "YTp=" decodes like "YTo=" ("a:") but with stray low bits: only the canonical form is accepted.
    assert.deepEqual(parseBasicAuthorization('Basic YTo='), { username: 'a', password: '' });
    assert.equal(parseBasicAuthorization('Basic YTp='), undefined);
  });
});

describe('GET /v2/auth', () => {
  let fresh: FreshDatabase;
  let accounts: AccountMetadata;
  let metadata: Metadata;
  let audit: AuditLog;
  let services: RunningAuthServices;
  let app: FastifyInstance;
  let addressCounter = 0;
  /** Every request comes from its own address unless a test says otherwise, so throttling stays per test. */
  const nextAddress = () => `10.0.${Math.floor(++addressCounter / 250)}.${addressCounter % 250}`;

  const get = (query: string, headers: Record<string, string> = {}, remoteAddress = nextAddress()) =>
    app.inject({ method: 'GET', url: `/v2/auth${query}`, headers: { host: 'whatever.example', ...headers }, remoteAddress });

  async function tokenOf(response: Awaited<ReturnType<typeof get>>) {
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json<TokenBody>();
    assert.equal(body.token, body.access_token);
    return services.verifier.verify(body.token, SERVICE);
  }

  function errorOf(response: Awaited<ReturnType<typeof get>>, status: number, code: string): string {
    assert.equal(response.statusCode, status, response.body);
    const body = response.json<ErrorBody>();
    assert.equal(body.errors.length, 1);
    assert.equal(body.errors[0]?.code, code);
    return body.errors[0]?.message ?? '';
  }

  before(async () => {
    fresh = await freshDatabase('sqlite');
    accounts = createAccountMetadata(fresh.database);
    metadata = createMetadata(fresh.database);
    const log = new MemoryLog();
    audit = new AuditLog(accounts.audit, log, { flushIntervalMs: 10 });
    services = buildAuthServices({
      accounts,
      metadata,
      options: defaultAuthOptions({ serverHostname: SERVICE, loginFreeAttempts: 3, tokenLifetimeS: 600 }),
      audit,
      log,
    });
    await services.start();
    const alice = await createUser(accounts, 'alice', await hashPassword(PASSWORD));
    const acme = await accounts.accounts.createOrganization({ name: 'acme', email: null, ownerId: alice.id });
    const robot = await createRobot(accounts, acme, 'ci', ROBOT_TOKEN);
    await createUser(accounts, 'bob', await hashPassword(PASSWORD));
    await createUser(accounts, 'carol', await hashPassword(PASSWORD));
    await createRepository(metadata, 'acme/public', 'public');
    const priv = await createRepository(metadata, 'acme/private', 'private');
    await grant(accounts, priv, { kind: 'account', id: robot.id }, 'read');
    app = Fastify({ logger: false });
    await app.register(tokenEndpoint(services));
    await app.ready();
  });
  after(async () => {
    await app.close();
    await services.stop();
    await audit.close();
    await fresh.drop();
  });

  it('gives anonymous callers a pull token for a public repository', async () => {
    const asked = Date.now();
    const response = await get(`?service=${SERVICE}&scope=repository:acme/public:pull,push`);
    const answered = Date.now();
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.match(String(response.headers['content-type']), /^application\/json/);
    const body = response.json<TokenBody>();
    assert.equal(body.expires_in, 600);
    // Issued while the request ran (iat has whole seconds, hence the floor).
    const issued = Date.parse(body.issued_at);
    assert.ok(issued >= Math.floor(asked / 1000) * 1000 && issued <= answered, `issued at ${body.issued_at}, asked at ${new Date(asked).toISOString()}`);
    assert.match(body.issued_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const verified = await tokenOf(response);
    assert.deepEqual(verified.identity, { kind: 'anonymous' });
    assert.deepEqual(verified.access, [{ type: 'repository', name: 'acme/public', actions: ['pull'] }]);
  });

  it('gives anonymous callers an empty token when nothing can be granted', async () => {
    assert.deepEqual((await tokenOf(await get(`?service=${SERVICE}&scope=repository:acme/private:pull`))).access, []);
    assert.deepEqual((await tokenOf(await get(''))).access, []);
    assert.deepEqual((await tokenOf(await get('?scope=repository:nobody/nothing:pull'))).access, []);
  });

  it('logs in with Basic credentials and grants several scopes at once', async () => {
    const query = [
      `service=${SERVICE}`,
      'scope=repository:acme/private:pull,push',
      `scope=${encodeURIComponent('repository:acme/new:push,pull registry:catalog:*')}`,
      'scope=thing:else:pull',
      'scope=repository:acme/public:pull',
      'account=alice',
    ].join('&');
    const verified = await tokenOf(await get(`?${query}`, { authorization: basic('alice', PASSWORD) }));
    assert.equal(verified.identity.kind, 'user');
    assert.deepEqual(verified.access, [
      { type: 'repository', name: 'acme/private', actions: ['pull', 'push'] },
      { type: 'repository', name: 'acme/new', actions: ['pull', 'push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
      { type: 'repository', name: 'acme/public', actions: ['pull'] },
    ]);
  });

  it('accepts "+" for the spaces between scopes, as docker encodes them', async () => {
    const verified = await tokenOf(await get('?scope=repository:acme/public:pull+registry:catalog:*'));
    assert.deepEqual(verified.access.map((e) => e.name), ['acme/public', 'catalog']);
  });

  it('logs robots in with their token', async () => {
    const verified = await tokenOf(await get('?scope=repository:acme/private:pull,push', { authorization: basic('acme+ci', ROBOT_TOKEN) }));
    assert.equal(verified.identity.kind, 'robot');
    assert.deepEqual(verified.access, [{ type: 'repository', name: 'acme/private', actions: ['pull'] }]);
  });

  it('answers 401 with a Basic challenge for wrong or malformed credentials', async () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const headers = [
      basic('alice', 'wrong password'),
      basic('nobody', PASSWORD),
      'Bearer some.jwt.token',
      'Basic',
      'Basic %%%%',
      `Basic ${b64('alice')}`,
      `Basic ${b64(`:${PASSWORD}`)}`,
      `Basic ${'QUFB'.repeat(3000)}`,
      'Negotiate abc',
    ];
    for (const authorization of headers) {
      const response = await get('?scope=repository:acme/public:pull', { authorization });
      errorOf(response, 401, 'UNAUTHORIZED');
      assert.equal(response.headers['www-authenticate'], `Basic realm="http://${SERVICE}/v2/auth"`, authorization.slice(0, 30));
    }
    assert.equal(errorOf(await get('', { authorization: basic('nobody', 'wrong password') }), 401, 'UNAUTHORIZED'), 'invalid username or password');
  });

  it('refuses an enormous password without hashing it', async () => {
    // CPU time, not wall-clock time (test/helpers/cpu-time.ts): less than one bcrypt check for both.
    // Carol's three failures stay within the free attempts (3), so none of them is throttled.
    const wrongCpu = await cpuMicros(async () => errorOf(await get('', { authorization: basic('carol', 'wrong password') }), 401, 'UNAUTHORIZED'));
    const enormousCpu = await cpuMicros(async () => {
      errorOf(await get('', { authorization: basic('carol', 'x'.repeat(6000)) }), 401, 'UNAUTHORIZED');
      errorOf(await get('', { authorization: basic('carol', 'x'.repeat(100_000)) }), 401, 'UNAUTHORIZED');
    });
    assert.ok(enormousCpu < wrongCpu / 2, `two enormous passwords cost ${enormousCpu} µs of CPU, one wrong password ${wrongCpu} µs`);
  });

  it('answers 400 for malformed scopes', async () => {
    const scopes = [
      'repository:acme//x:pull',
      'repository:ACME/x:pull',
      'repository:acme/x',
      'repository:acme/x:',
      ':acme/x:pull',
      'repository:acme/x%0A:pull',
      'repository:localhost:5000/x:pull',
      `repository:acme/${'x'.repeat(2000)}:pull`,
      'repository:acme/%C3%A9:pull',
    ];
    for (const scope of scopes) {
      const message = errorOf(await get(`?scope=${scope}`), 400, 'UNSUPPORTED');
      assert.match(message, /^invalid scope /, scope);
      assert.ok(message.length < 400);
    }
  });

  it('refuses scopes that would make a token too large to use', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `acme/${'n'.repeat(200)}${i}`);
    const scope = encodeURIComponent(names.map((name) => `repository:${name}:pull,push`).join(' '));
    const message = errorOf(await get(`?scope=${scope}`, { authorization: basic('alice', PASSWORD) }), 400, 'UNSUPPORTED');
    assert.match(message, /request fewer scopes/);
    // The same request anonymously grants nothing, so its token is small.
    assert.deepEqual((await tokenOf(await get(`?scope=${scope}`))).access, []);
  });

  it('checks the service', async () => {
    errorOf(await get('?service=other.example&scope=repository:acme/public:pull'), 400, 'UNSUPPORTED');
    errorOf(await get(`?service=${SERVICE}&service=${SERVICE}`), 400, 'UNSUPPORTED');
    await tokenOf(await get(`?service=${SERVICE}`));
  });

  it('uses the Host header as the service without SERVER_HOSTNAME', async () => {
    const local = buildAuthServices({ accounts, metadata, options: defaultAuthOptions(), audit, log: new MemoryLog() });
    await local.start();
    const localApp = Fastify({ logger: false });
    await localApp.register(tokenEndpoint(local));
    try {
      const ok = await localApp.inject({ method: 'GET', url: '/v2/auth?service=localhost:5000', headers: { host: 'localhost:5000' } });
      assert.equal(ok.statusCode, 200, ok.body);
      await local.verifier.verify(ok.json<TokenBody>().token, 'localhost:5000');
      const wrong = await localApp.inject({ method: 'GET', url: '/v2/auth?service=registry.test', headers: { host: 'localhost:5000' } });
      assert.equal(wrong.statusCode, 400);
    } finally {
      await localApp.close();
      await local.stop();
    }
  });

  it('answers 429 with Retry-After when the login is throttled', async () => {
    const address = '203.0.113.50';
    for (let i = 0; i < 3; i++) errorOf(await get('', { authorization: basic('bob', `wrong ${i}`) }, address), 401, 'UNAUTHORIZED');
    const response = await get('', { authorization: basic('bob', PASSWORD) }, address);
    const message = errorOf(response, 429, 'TOOMANYREQUESTS');
    assert.match(message, /too many failed login attempts/);
    assert.equal(response.headers['retry-after'], '1');
    const rows = (await auditRows(audit, ['login_failure'])).filter((r) => r.clientAddress === address);
    assert.deepEqual(rows.map((r) => r.metadata.reason), ['invalid', 'invalid', 'invalid', 'throttled']);
  });

  it('answers 500 without internals when something breaks', async () => {
    const broken: RunningAuthServices = {
      ...services,
      policy: { ...services.policy, allowedActions: async () => Promise.reject(new Error('database exploded: secret detail')) },
    };
    const brokenApp = Fastify({ logger: false });
    await brokenApp.register(tokenEndpoint(broken));
    try {
      const response = await brokenApp.inject({ method: 'GET', url: '/v2/auth?scope=repository:acme/public:pull' });
      assert.equal(response.statusCode, 500);
      assert.equal(response.json<ErrorBody>().errors[0]?.code, 'INTERNAL');
      assert.ok(!response.body.includes('secret detail'));
    } finally {
      await brokenApp.close();
    }
  });
});
