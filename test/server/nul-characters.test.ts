import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../../src/auth/passwords.js';
import { ALL_DIALECTS } from '../helpers/databases.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';

// PostgreSQL refuses U+0000 in text, so a NUL that reached a query used to answer 500. Every API refuses
// it at its edge with a 400 in its own shape; the same requests run on every dialect.

const DIGEST = `sha256:${'a'.repeat(64)}`;

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function send(reg: TestRegistry, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const response = await fetch(`${reg.url}${path}`, init);
  const text = await response.text();
  const json = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  return { status: response.status, headers: response.headers, json };
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** An OCI error answer (/v2 and /v2/auth): 400, code UNSUPPORTED (REQUEST_INVALID's wire code), the place named. */
function assertOciRefusal(answer: Answer, where: RegExp): void {
  assert.equal(answer.status, 400, JSON.stringify(answer.json));
  const errors = answer.json.errors as Array<{ code: string; message: string }>;
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.code, 'UNSUPPORTED');
  assert.match(errors[0]!.message, where);
  assert.match(errors[0]!.message, /NUL character/);
}

/** Quay's error shape on /api/v1. */
function assertApiRefusal(answer: Answer, where: RegExp): void {
  assert.equal(answer.status, 400, JSON.stringify(answer.json));
  assert.equal(answer.json.error_type, 'invalid_request');
  assert.equal(answer.json.status, 400);
  assert.match(answer.json.error_message as string, where);
  assert.match(answer.json.error_message as string, /NUL character/);
  assert.equal(answer.json.detail, answer.json.error_message);
}

for (const dialect of ALL_DIALECTS) {
  describe(`NUL characters on ${dialect}`, () => {
    let reg: TestRegistry;
    let token: string;
    before(async () => {
      reg = await startTestRegistry({ dialect, authOptions: { superUsers: new Set(['dana']) } });
      await reg.accounts.accounts.createUser({ name: 'dana', email: 'dana@example.com', passwordHash: await hashPassword('dana-password-1') });
      const signin = await fetch(`${reg.url}/api/v1/signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'dana', password: 'dana-password-1' }),
      });
      assert.equal(signin.status, 200);
      const cookie = signin.headers.get('set-cookie')!.split(';')[0]!;
      const created = await send(reg, '/api/v1/user/apptoken', { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ title: 'nul test' }) });
      assert.equal(created.status, 200);
      token = (created.json.token as { token_code: string }).token_code;
      const repo = await send(reg, '/api/v1/repository', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ namespace: 'dana', repository: 'app', visibility: 'private', description: '' }),
      });
      assert.equal(repo.status, 201, JSON.stringify(repo.json));
    });
    after(() => reg?.close());

    it('refuses them in /v2 query parameters with OCI error JSON', async () => {
      assertOciRefusal(await send(reg, '/v2/dana/app/tags/list?last=%00'), /query parameter "last"/);
      assertOciRefusal(await send(reg, '/v2/_catalog?last=a%00b'), /query parameter "last"/);
      assertOciRefusal(await send(reg, `/v2/dana/app/referrers/${DIGEST}?artifactType=%00`), /query parameter "artifactType"/);
      // In the path, the router's own validation already names the bad part.
      assert.equal(((await send(reg, '/v2/dana%00/app/tags/list')).json.errors as Array<{ code: string }>)[0]!.code, 'NAME_INVALID');
      // The same requests without the NUL are answered as usual.
      assert.equal((await send(reg, '/v2/dana/app/tags/list?last=a')).status, 200);
      assert.equal((await send(reg, '/v2/_catalog?last=a')).status, 200);
    });

    it('refuses them in /v2/auth credentials and scopes, in the token endpoint shape, without any login', async () => {
      const credential = await send(reg, '/v2/auth?service=localhost', { headers: { authorization: basic('a\u0000b', 'secret') } });
      assertOciRefusal(credential, /Authorization header/);
      assert.equal(credential.headers.get('cache-control'), 'no-store');
      assertOciRefusal(await send(reg, '/v2/auth', { headers: { authorization: basic('dana', 'pass\u0000word') } }), /Authorization header/);
      assertOciRefusal(await send(reg, '/v2/auth?scope=repository:dana/app%00:pull'), /query parameter "scope"/);
      // A good login still gets a token.
      assert.equal((await send(reg, '/v2/auth', { headers: { authorization: basic('dana', 'dana-password-1') } })).status, 200);
    });

    it('refuses them in /api/v1 queries, paths and JSON bodies with Quay errors', async () => {
      const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      assertApiRefusal(await send(reg, '/api/v1/user/logs?performer=%00', { headers: auth }), /query parameter "performer"/);
      assertApiRefusal(await send(reg, '/api/v1/superuser/logs?performer=x%00', { headers: auth }), /query parameter "performer"/);
      assertApiRefusal(
        await send(reg, '/api/v1/repository/dana/app', { method: 'PUT', headers: auth, body: JSON.stringify({ description: 'a\u0000' }) }),
        /JSON body field "description"/,
      );
      assertApiRefusal(
        await send(reg, '/api/v1/user/apptoken', { method: 'POST', headers: auth, body: JSON.stringify({ title: '\u0000' }) }),
        /JSON body field "title"/,
      );
      assertApiRefusal(
        await send(reg, '/api/v1/organization/', { method: 'POST', headers: auth, body: JSON.stringify({ name: 'ok', extra: [{ deep: ['x', 'y\u0000'] }] }) }),
        /JSON body field "extra\[0\]\.deep\[1\]"/,
      );
      assertApiRefusal(await send(reg, '/api/v1/organization/', { method: 'POST', headers: auth, body: '{"na\\u0000me": "x"}' }), /JSON body field/);
      assertApiRefusal(await send(reg, '/api/v1/organization/a%00b', { headers: auth }), /path parameter "org"/);
      assertApiRefusal(await send(reg, '/api/v1/repository/dana/a%00b', { headers: auth }), /^the path contains/);
      assertApiRefusal(await send(reg, '/api/v1/organization/x/team/a%00/members', { headers: auth }), /path parameter "team"/);
      // Without the NUL the same calls work.
      assert.equal((await send(reg, '/api/v1/user/logs?performer=dana', { headers: auth })).status, 200);
      const described = await send(reg, '/api/v1/repository/dana/app', { method: 'PUT', headers: auth, body: JSON.stringify({ description: 'fine' }) });
      assert.equal(described.status, 200);
    });

    it('refuses them in a sign-in before any login is attempted', async () => {
      const signin = (body: unknown) =>
        send(reg, '/api/v1/signin', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assertApiRefusal(await signin({ username: 'a\u0000b', password: 'whatever-1' }), /JSON body field "username"/);
      assertApiRefusal(await signin({ username: 'dana', password: 'x\u0000' }), /JSON body field "password"/);
      assertApiRefusal(await send(reg, '/api/v1/user/', { headers: { authorization: basic('a\u0000b', 'x') } }), /Authorization header/);
      assert.equal((await signin({ username: 'dana', password: 'dana-password-1' })).status, 200);
    });
  });
}
