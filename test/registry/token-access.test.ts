// Token auth on /v2 as `quayside serve` runs it: challenges (mounts name their source), refused tokens,
// DENIED (saying when a namespace is missing), the catalog listed by identity, cross-repository mounts that
// need pull on the source, and the audit rows of pushes and pulls.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../../src/auth/passwords.js';
import { signRs256 } from '../../src/auth/jwt.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';
import { basicAuth, registryToken } from '../helpers/registry-auth.js';
import { capturingLogger, requestLines } from '../helpers/log-capture.js';
import { waitUntil } from '../helpers/wait.js';

const ALICE = { username: 'alice', password: 'alice-password-1' };
const BOB = { username: 'bob', password: 'bob-password-1' };

interface Answer {
  status: number;
  headers: Headers;
  body: { errors?: { code: string; message: string }[]; repositories?: string[] } | undefined;
}

async function call(registry: TestRegistry, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Answer> {
  const response = await fetch(`${registry.url}${path}`, { method, headers, body: body === undefined ? undefined : new Uint8Array(body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : (JSON.parse(text) as Answer['body']) };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Pushes a blob with a monolithic POST; returns its digest. */
async function pushBlob(registry: TestRegistry, repository: string, token: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const answer = await call(registry, 'POST', `/v2/${repository}/blobs/uploads/?digest=${digest}`, { ...bearer(token), 'content-type': 'application/octet-stream' }, bytes);
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return digest;
}

/** Pushes a one-layer image manifest tagged `tag`; returns the manifest digest. */
async function pushImage(registry: TestRegistry, repository: string, token: string, tag: string): Promise<string> {
  const config = Buffer.from('{}');
  const layer = randomBytes(64);
  const configDigest = await pushBlob(registry, repository, token, config);
  const layerDigest = await pushBlob(registry, repository, token, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  const put = await call(registry, 'PUT', `/v2/${repository}/manifests/${tag}`, { ...bearer(token), 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, manifest);
  assert.equal(put.status, 201, JSON.stringify(put.body));
  return sha256(manifest);
}

describe('token auth on /v2', () => {
  let registry: TestRegistry;
  let host: string;

  before(async () => {
    registry = await startTestRegistry({ access: 'tokens' });
    host = new URL(registry.url).host;
    for (const user of [ALICE, BOB]) {
      await registry.accounts.accounts.createUser({ name: user.username, email: null, passwordHash: await hashPassword(user.password) });
    }
  });
  after(async () => registry?.close());

  it('answers an unauthenticated GET /v2/ with 401 and the realm to log in at', async () => {
    const answer = await call(registry, 'GET', '/v2/');
    assert.equal(answer.status, 401);
    assert.equal(answer.headers.get('www-authenticate'), `Bearer realm="http://${host}/v2/auth",service="${host}"`);
    assert.deepEqual(answer.body?.errors?.map((e) => e.code), ['UNAUTHORIZED']);
    const token = await registryToken(registry.url, [], ALICE);
    assert.equal((await call(registry, 'GET', '/v2/', bearer(token))).status, 200);
  });

  it('names the scope each route needs in its challenge', async () => {
    const cases: [string, string, string][] = [
      ['GET', '/v2/alice/app/tags/list', 'repository:alice/app:pull'],
      ['GET', `/v2/alice/app/manifests/latest`, 'repository:alice/app:pull'],
      ['POST', '/v2/alice/app/blobs/uploads/', 'repository:alice/app:pull,push'],
      ['DELETE', `/v2/alice/app/manifests/sha256:${'0'.repeat(64)}`, 'repository:alice/app:delete'],
      ['GET', '/v2/_catalog', 'registry:catalog:*'],
    ];
    for (const [method, path, scope] of cases) {
      const answer = await call(registry, method, path);
      assert.equal(answer.status, 401, `${method} ${path}`);
      assert.equal(answer.headers.get('www-authenticate'), `Bearer realm="http://${host}/v2/auth",service="${host}",scope="${scope}"`, `${method} ${path}`);
    }
  });

  it('refuses malformed Authorization headers with 401 invalid_token, never 500', async () => {
    const headers = [
      basicAuth(ALICE),
      'Bearer',
      'Bearer a b',
      'Bearer not.a.jwt',
      `Bearer ${'x'.repeat(9000)}`,
      'Negotiate abc',
      'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.',
    ];
    for (const authorization of headers) {
      const answer = await call(registry, 'GET', '/v2/alice/app/tags/list', { authorization });
      assert.equal(answer.status, 401, authorization.slice(0, 40));
      assert.match(answer.headers.get('www-authenticate') ?? '', /error="invalid_token"/, authorization.slice(0, 40));
      assert.deepEqual(answer.body?.errors?.map((e) => e.code), ['UNAUTHORIZED']);
    }
  });

  it('refuses tampered, expired, wrong-audience and foreign-issuer tokens', async () => {
    const good = await registryToken(registry.url, ['repository:alice/app:pull,push'], ALICE);
    const [header, payload, signature] = good.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const widened = Buffer.from(JSON.stringify({ ...claims, access: [{ type: 'repository', name: 'bob/secret', actions: ['pull'] }] })).toString('base64url');
    const tampered = `${header}.${widened}.${signature}`;
    const refused = async (token: string, path = '/v2/alice/app/tags/list') => {
      const answer = await call(registry, 'GET', path, bearer(token));
      assert.equal(answer.status, 401, JSON.stringify(answer.body));
      assert.match(answer.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      return answer.body?.errors?.[0]?.message ?? '';
    };
    await refused(tampered, '/v2/bob/secret/tags/list');

    // A key of "another instance" published in the shared database signs the crafted tokens below.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const now = Date.now();
    await registry.accounts.serviceKeys.publish({
      kid: 'test-key-1',
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      createdBy: 'token-access.test',
      createdAt: new Date(now),
      expiresAt: new Date(now + 3600_000),
    });
    const craft = (overrides: Record<string, unknown>) =>
      signRs256({ ...claims, iat: Math.floor(now / 1000), nbf: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 300, ...overrides }, privateKey, 'test-key-1');
    // The crafted token is accepted as is, so the refusals below are about the one claim each changes.
    assert.equal((await call(registry, 'GET', '/v2/alice/app/tags/list', bearer(craft({})))).status, 404);
    assert.match(await refused(craft({ exp: Math.floor(now / 1000) - 3600, iat: Math.floor(now / 1000) - 7200, nbf: Math.floor(now / 1000) - 7200 })), /expired/);
    assert.match(await refused(craft({ aud: 'registry.elsewhere.example' })), /another service/);
    assert.match(await refused(craft({ iss: 'someone-else' })), /issuer/);
    // The same good token presented under another Host is for another service (fetch cannot set Host).
    const elsewhere = await new Promise<{ status: number; challenge: string }>((resolve, reject) => {
      const url = new URL('/v2/alice/app/tags/list', registry.url);
      const req = request(url, { headers: { ...bearer(good), host: 'other.example:5000' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, challenge: String(res.headers['www-authenticate']) }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(elsewhere.status, 401);
    assert.match(elsewhere.challenge, /service="other\.example:5000".*error="invalid_token"/);
  });

  it('answers 403 DENIED to a signed-in caller and 401 to an anonymous one when the token lacks the action', async () => {
    const aliceToken = await registryToken(registry.url, ['repository:alice/private:pull,push'], ALICE);
    await pushImage(registry, 'alice/private', aliceToken, 'v1');

    const bobToken = await registryToken(registry.url, ['repository:alice/private:pull,push'], BOB);
    const denied = await call(registry, 'GET', '/v2/alice/private/tags/list', bearer(bobToken));
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.body?.errors?.map((e) => e.code), ['DENIED']);
    const deniedPush = await call(registry, 'POST', '/v2/alice/private/blobs/uploads/', bearer(bobToken));
    assert.equal(deniedPush.status, 403);

    const anonymousToken = await registryToken(registry.url, ['repository:alice/private:pull'], null);
    const anonymous = await call(registry, 'GET', '/v2/alice/private/tags/list', bearer(anonymousToken));
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
  });

  it('lets anyone pull a public repository, anonymous included, and nobody else push to it', async () => {
    const aliceToken = await registryToken(registry.url, ['repository:alice/public:pull,push'], ALICE);
    const digest = await pushImage(registry, 'alice/public', aliceToken, 'v1');
    const repository = await registry.metadata.repositories.getRepository('alice/public');
    assert.ok(repository);
    await registry.metadata.repositories.setVisibility(repository.id, 'public');

    const anonymousToken = await registryToken(registry.url, ['repository:alice/public:pull,push'], null);
    const pulled = await fetch(`${registry.url}/v2/alice/public/manifests/v1`, { headers: { ...bearer(anonymousToken), accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(pulled.status, 200);
    assert.equal(pulled.headers.get('docker-content-digest'), digest);
    assert.equal((await call(registry, 'POST', '/v2/alice/public/blobs/uploads/', bearer(anonymousToken))).status, 401);
    const bobToken = await registryToken(registry.url, ['repository:alice/public:pull,push'], BOB);
    assert.equal((await call(registry, 'GET', '/v2/alice/public/tags/list', bearer(bobToken))).status, 200);
    assert.equal((await call(registry, 'POST', '/v2/alice/public/blobs/uploads/', bearer(bobToken))).status, 403);
  });

  it('lists in the catalog only what the caller may pull', async () => {
    const bobToken = await registryToken(registry.url, ['repository:bob/own:pull,push'], BOB);
    await pushImage(registry, 'bob/own', bobToken, 'v1');
    const catalogOf = async (credentials: typeof ALICE | null) => {
      const token = await registryToken(registry.url, ['registry:catalog:*'], credentials);
      const answer = await call(registry, 'GET', '/v2/_catalog', bearer(token));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body?.repositories ?? [];
    };
    assert.deepEqual(await catalogOf(ALICE), ['alice/private', 'alice/public']);
    assert.deepEqual(await catalogOf(BOB), ['alice/public', 'bob/own']);
    assert.deepEqual(await catalogOf(null), ['alice/public']);
  });

  it('lists the catalog by identity for a token without any scope (podman login), never 403 for a signed-in caller', async () => {
    const bobToken = await registryToken(registry.url, ['repository:bob/own:pull,push'], BOB);
    await pushImage(registry, 'bob/own', bobToken, 'v2');
    const catalogWith = async (token: string) => {
      const answer = await call(registry, 'GET', '/v2/_catalog', bearer(token));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body?.repositories ?? [];
    };
    // The token podman's login leaves behind: a GET /v2/auth without scope.
    assert.deepEqual(await catalogWith(await registryToken(registry.url, [], BOB)), ['alice/public', 'bob/own']);
    assert.deepEqual(await catalogWith(await registryToken(registry.url, [], ALICE)), ['alice/private', 'alice/public']);
    // A token for something else entirely lists the same: what it may see is the identity's, not the scope's.
    assert.deepEqual(await catalogWith(await registryToken(registry.url, ['repository:alice/private:pull'], BOB)), ['alice/public', 'bob/own']);
    assert.deepEqual(await catalogWith(await registryToken(registry.url, [], null)), ['alice/public']);
  });

  it('challenges a cross-repository mount for pull on the source too, so that a client following it can mount', async () => {
    const aliceToken = await registryToken(registry.url, ['repository:alice/mount-src:pull,push'], ALICE);
    const digest = await pushBlob(registry, 'alice/mount-src', aliceToken, randomBytes(96));
    const path = `/v2/alice/mount-dst/blobs/uploads/?mount=${digest}&from=alice/mount-src`;

    const challenged = await call(registry, 'POST', path);
    assert.equal(challenged.status, 401);
    const challenge = challenged.headers.get('www-authenticate') ?? '';
    assert.equal(challenge, `Bearer realm="http://${host}/v2/auth",service="${host}",scope="repository:alice/mount-dst:pull,push repository:alice/mount-src:pull"`);
    // Do what a client does: ask for exactly the challenged scopes, retry with that token.
    const scopes = (/scope="([^"]*)"/.exec(challenge)?.[1] ?? '').split(' ');
    const followed = await call(registry, 'POST', path, bearer(await registryToken(registry.url, scopes, ALICE)));
    assert.equal(followed.status, 201, JSON.stringify(followed.body));
    assert.equal((await call(registry, 'HEAD', `/v2/alice/mount-dst/blobs/${digest}`, bearer(await registryToken(registry.url, ['repository:alice/mount-dst:pull'], ALICE)))).status, 200);

    // Not a mount (no from, from = the target, a malformed from): the route's own scope only.
    for (const query of [`?mount=${digest}`, `?mount=${digest}&from=alice/mount-dst`, `?mount=${digest}&from=UPPER/case`, '?from=alice/mount-src']) {
      const answer = await call(registry, 'POST', `/v2/alice/mount-dst/blobs/uploads/${query}`);
      assert.match(answer.headers.get('www-authenticate') ?? '', /,scope="repository:alice\/mount-dst:pull,push"$/, query);
    }
  });

  it('tells a push into a namespace that does not exist what is missing and how to create it', async () => {
    const token = await registryToken(registry.url, ['repository:nowhere/app:pull,push'], ALICE);
    const answer = await call(registry, 'POST', '/v2/nowhere/app/blobs/uploads/', bearer(token));
    assert.equal(answer.status, 403);
    const error = answer.body?.errors?.[0];
    assert.equal(error?.code, 'DENIED');
    assert.match(error?.message ?? '', /namespace "nowhere" does not exist/);
    assert.match(error?.message ?? '', /quayside org create nowhere --owner <user>/);
    assert.match(error?.message ?? '', /CREATE_NAMESPACE_ON_PUSH/);
    // A namespace that exists but is someone else's keeps the plain refusal.
    const other = await call(registry, 'POST', '/v2/bob/app/blobs/uploads/', bearer(await registryToken(registry.url, ['repository:bob/app:pull,push'], ALICE)));
    assert.equal(other.status, 403);
    assert.doesNotMatch(other.body?.errors?.[0]?.message ?? '', /does not exist/);
  });

  it('mounts a blob across repositories only when the same token may pull the source', async () => {
    const aliceToken = await registryToken(registry.url, ['repository:alice/source:pull,push'], ALICE);
    const blob = randomBytes(128);
    const digest = await pushBlob(registry, 'alice/source', aliceToken, blob);

    // Bob may push to his namespace but not read alice/source: the mount falls back to an upload session.
    const bobToken = await registryToken(registry.url, ['repository:bob/target:pull,push', 'repository:alice/source:pull'], BOB);
    const refused = await call(registry, 'POST', `/v2/bob/target/blobs/uploads/?mount=${digest}&from=alice/source`, bearer(bobToken));
    assert.equal(refused.status, 202, 'a mount from an unreadable repository must not link the blob');
    assert.equal((await call(registry, 'HEAD', `/v2/bob/target/blobs/${digest}`, bearer(bobToken))).status, 404);

    const aliceBoth = await registryToken(registry.url, ['repository:alice/target:pull,push', 'repository:alice/source:pull'], ALICE);
    const mounted = await call(registry, 'POST', `/v2/alice/target/blobs/uploads/?mount=${digest}&from=alice/source`, bearer(aliceBoth));
    assert.equal(mounted.status, 201);
  });

  it('writes push and pull audit rows with the performer and the client address', async () => {
    const token = await registryToken(registry.url, ['repository:alice/audited:pull,push'], ALICE);
    const digest = await pushImage(registry, 'alice/audited', token, 'v1');
    const pulled = await fetch(`${registry.url}/v2/alice/audited/manifests/v1`, { headers: { ...bearer(token), accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(pulled.status, 200);
    await pulled.arrayBuffer();
    const rows = await registry.auth.audit.query({ repository: 'alice/audited' }, { limit: 10 });
    const kinds = rows.map((row) => row.kind);
    assert.ok(kinds.includes('push_repo'), kinds.join(','));
    assert.ok(kinds.includes('create_repo'), kinds.join(','));
    const pull = rows.find((row) => row.kind === 'pull_repo');
    assert.ok(pull, kinds.join(','));
    assert.equal(pull.performer?.name, 'alice');
    assert.equal(pull.clientAddress, '127.0.0.1');
    assert.equal(pull.namespace, 'alice');
    assert.deepEqual(pull.metadata, { tag: 'v1', manifest_digest: digest });
  });
});

describe('token auth on /v2 without FEATURE_ANONYMOUS_ACCESS, with the request log', () => {
  let registry: TestRegistry;
  const lines: Array<Record<string, unknown>> = [];

  before(async () => {
    registry = await startTestRegistry({ access: 'tokens', authOptions: { anonymousAccess: false }, logger: capturingLogger(lines) });
    await registry.accounts.accounts.createUser({ name: ALICE.username, email: null, passwordHash: await hashPassword(ALICE.password) });
  });
  after(async () => registry?.close());

  it('sends anonymous callers of the catalog to log in, and lists it for a signed-in one', async () => {
    const token = await registryToken(registry.url, ['repository:alice/app:pull,push'], ALICE);
    await pushImage(registry, 'alice/app', token, 'v1');
    const anonymous = await call(registry, 'GET', '/v2/_catalog', bearer(await registryToken(registry.url, [], null)));
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
    const signedIn = await call(registry, 'GET', '/v2/_catalog', bearer(await registryToken(registry.url, [], ALICE)));
    assert.deepEqual(signedIn.body?.repositories, ['alice/app']);
  });

  it('writes why a push into a missing namespace was refused on the request log line', async () => {
    const token = await registryToken(registry.url, ['repository:ghost/app:pull,push'], ALICE);
    lines.length = 0;
    assert.equal((await call(registry, 'POST', '/v2/ghost/app/blobs/uploads/', bearer(token))).status, 403);
    const line = await waitUntil('the request line', () => requestLines(lines).find((l) => l.url === '/v2/ghost/app/blobs/uploads/'));
    assert.equal(line.status, 403);
    const error = line.error as { code?: string; message?: string } | undefined;
    assert.equal(error?.code, 'DENIED');
    assert.match(error?.message ?? '', /namespace "ghost" does not exist: create it with `quayside org create ghost --owner <user>`/);
  });
});
