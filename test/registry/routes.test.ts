import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Metadata } from '../../src/db/metadata.js';
import { RegistryError } from '../../src/registry/errors.js';
import { matchRoute, parseV2Path } from '../../src/registry/routes.js';
import { DEFAULT_TEST_OPTIONS, startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';
import { OCI_MANIFEST, firstError, putManifest, seededImage, sha256 } from './manifest-fixtures.js';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** An HTTP request with the path sent exactly as given (fetch would normalise "..", "%2e" and friends). */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Writes bytes on a fresh TCP connection and resolves with everything the server sent until it closed (or 5 s). */
function rawSocket(base: string, bytes: string, endAfterWrite = true): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(bytes, () => {
      if (endAfterWrite) socket.end();
    });
  });
}

function ociCode(response: RawResponse): string {
  const parsed = JSON.parse(response.body) as { errors?: Array<{ code: string }> };
  const code = parsed.errors?.[0]?.code;
  assert.ok(code !== undefined, `not an OCI error body: ${response.body}`);
  return code;
}

const DIGEST = sha256(Buffer.from('some content'));

describe('parseV2Path', () => {
  const cases: Array<[string, ReturnType<typeof parseV2Path>]> = [
    ['/v2/', { pattern: '/v2/', name: '', params: {} }],
    ['/v2', { pattern: '/v2/', name: '', params: {} }],
    ['/v2/_catalog', { pattern: '/v2/_catalog', name: '', params: {} }],
    ['/v2/a/b/c/manifests/latest', { pattern: '/v2/<name>/manifests/<reference>', name: 'a/b/c', params: { reference: 'latest' } }],
    // Suffixes match from the right, so resource words may be name components.
    ['/v2/a/blobs/b/manifests/v1', { pattern: '/v2/<name>/manifests/<reference>', name: 'a/blobs/b', params: { reference: 'v1' } }],
    ['/v2/tags/manifests/x/tags/list', { pattern: '/v2/<name>/tags/list', name: 'tags/manifests/x', params: {} }],
    [`/v2/a/blobs/${DIGEST}`, { pattern: '/v2/<name>/blobs/<digest>', name: 'a', params: { digest: DIGEST } }],
    ['/v2/a/b/blobs/uploads/', { pattern: '/v2/<name>/blobs/uploads/', name: 'a/b', params: {} }],
    ['/v2/a/b/blobs/uploads', { pattern: '/v2/<name>/blobs/uploads/', name: 'a/b', params: {} }],
    ['/v2/a/b/blobs/uploads/0f-id', { pattern: '/v2/<name>/blobs/uploads/<uuid>', name: 'a/b', params: { uuid: '0f-id' } }],
    [`/v2/a/referrers/${DIGEST}`, { pattern: '/v2/<name>/referrers/<digest>', name: 'a', params: { digest: DIGEST } }],
    ['/v2/a/manifests/', undefined],
    ['/v2/a', undefined],
    ['/v2/tags/list', undefined],
    ['/v2/a/tags/other', undefined],
    ['/v2/a/unknown/thing', undefined],
    ['/v3/a/manifests/latest', undefined],
  ];
  for (const [path, expected] of cases) {
    it(`parses ${path}`, () => assert.deepEqual(parseV2Path(path), expected));
  }
});

describe('matchRoute', () => {
  it('validates names, digests, references and upload ids', () => {
    const expectCode = (method: string, url: string, code: string) =>
      assert.throws(() => matchRoute(method, url, DEFAULT_TEST_OPTIONS), (e: unknown) => e instanceof RegistryError && e.code === code, url);
    expectCode('GET', '/v2/Upper/manifests/latest', 'NAME_INVALID');
    expectCode('GET', '/v2/a/../b/manifests/latest', 'NAME_INVALID');
    expectCode('GET', '/v2/a/blobs/sha256:abc', 'DIGEST_INVALID');
    expectCode('GET', '/v2/a/manifests/sha256:abc', 'DIGEST_INVALID');
    expectCode('PUT', '/v2/a/manifests/-tag', 'MANIFEST_INVALID');
    expectCode('GET', '/v2/a/manifests/%E0%A4%A', 'MANIFEST_INVALID');
    // A read of a reference that is no tag reaches its handler (which answers MANIFEST_UNKNOWN after auth).
    assert.deepEqual(matchRoute('GET', '/v2/a/manifests/.INVALID_MANIFEST_NAME', DEFAULT_TEST_OPTIONS).params, { reference: '.INVALID_MANIFEST_NAME' });
    expectCode('PATCH', '/v2/a/blobs/uploads/..', 'BLOB_UPLOAD_INVALID');
    const ok = matchRoute('GET', `/v2/a/b/manifests/${encodeURIComponent(DIGEST)}?x=1`, DEFAULT_TEST_OPTIONS);
    assert.equal(ok.route.name, 'manifest.get');
    assert.deepEqual(ok.params, { reference: DIGEST });
  });

  it('answers 404 for unknown paths and disabled routes, 405 with Allow for a wrong method', () => {
    assert.throws(() => matchRoute('GET', '/v2/a/nothing/here', DEFAULT_TEST_OPTIONS), (e: unknown) => e instanceof RegistryError && e.status === 404);
    assert.throws(
      () => matchRoute('GET', `/v2/a/referrers/${DIGEST}`, { ...DEFAULT_TEST_OPTIONS, referrersApi: false }),
      (e: unknown) => e instanceof RegistryError && e.status === 404,
    );
    assert.throws(
      () => matchRoute('POST', '/v2/a/manifests/latest', DEFAULT_TEST_OPTIONS),
      (e: unknown) => e instanceof RegistryError && e.status === 405 && e.headers.Allow === 'GET, HEAD, PUT, DELETE',
    );
  });
});

describe('the /v2 API under bad input', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startTestRegistry();
  });
  after(async () => {
    await reg?.close();
  });

  const stillServing = async () => {
    const res = await fetch(`${reg.url}/v2/`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
  };

  it('answers the version check with the API version header', async () => {
    for (const path of ['/v2/', '/v2']) {
      const res = await fetch(`${reg.url}${path}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
      assert.deepEqual(await res.json(), {});
    }
    const head = await fetch(`${reg.url}/v2/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  it('refuses bad repository names with NAME_INVALID', async () => {
    const names = [
      'a/../b',
      '..',
      '%2e%2e/x',
      'x/%2e%2e',
      'Upper/case',
      'a$b',
      'a%20b',
      'a%2Fb',
      'a//b',
      '-lead',
      'trail_',
      'a'.repeat(300),
      `a/${'b'.repeat(8000)}`,
      'caf%C3%A9',
      'nul%00byte',
    ];
    for (const name of names) {
      const res = await raw(reg.url, 'GET', `/v2/${name}/manifests/latest`);
      assert.equal(res.status, 400, `${name.slice(0, 40)}: ${res.body.slice(0, 200)}`);
      assert.equal(ociCode(res), 'NAME_INVALID');
      assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
    }
    await stillServing();
  });

  it('refuses bad digests with DIGEST_INVALID on every digest route', async () => {
    const digests = ['sha256:xyz', `sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, 'md5:d41d8cd98f00b204e9800998ecf8427e', `sha256:${'a'.repeat(64)}x`, 'sha256:', ':'];
    for (const digest of digests) {
      for (const path of [`/v2/a/blobs/${digest}`, `/v2/a/manifests/${digest}`, `/v2/a/referrers/${digest}`]) {
        const res = await raw(reg.url, 'GET', path);
        assert.equal(res.status, 400, path);
        assert.equal(ociCode(res), 'DIGEST_INVALID');
      }
    }
    await stillServing();
  });

  it('answers 404 MANIFEST_UNKNOWN to reads and deletes of references that are neither tags nor digests, 400 to writes', async () => {
    const image = await seededImage(reg.metadata, 'refs/app');
    assert.equal((await putManifest(reg.url, 'refs/app', 'v1', image.bytes)).status, 201);
    // `.INVALID_MANIFEST_NAME` is what the distribution-spec conformance suite asks for.
    for (const reference of ['.INVALID_MANIFEST_NAME', '-bad', 'x'.repeat(129), 'sp%20ace', 'uni%C3%A9']) {
      for (const method of ['GET', 'HEAD', 'DELETE']) {
        const res = await raw(reg.url, method, `/v2/refs/app/manifests/${reference}`);
        assert.equal(res.status, 404, `${method} ${reference}`);
        if (method !== 'HEAD') assert.equal(ociCode(res), 'MANIFEST_UNKNOWN', `${method} ${reference}`);
      }
      const put = await putManifest(reg.url, 'refs/app', reference, image.bytes);
      assert.equal(put.status, 400, `PUT ${reference}`);
      assert.equal((await firstError(put)).code, 'MANIFEST_INVALID');
    }
    // A reference that is not even percent-decodable is a malformed request whatever the method.
    const garbled = await raw(reg.url, 'GET', '/v2/refs/app/manifests/bad%ZZ');
    assert.equal(garbled.status, 400);
    assert.equal(ociCode(garbled), 'MANIFEST_INVALID');
    assert.equal((await raw(reg.url, 'GET', '/v2/refs/app/manifests/v1')).status, 200);
  });

  it('accepts a percent-encoded digest reference', async () => {
    const image = await seededImage(reg.metadata, 'enc/app');
    assert.equal((await putManifest(reg.url, 'enc/app', 'v1', image.bytes)).status, 201);
    const res = await raw(reg.url, 'GET', `/v2/enc/app/manifests/${encodeURIComponent(image.digest)}`);
    assert.equal(res.status, 200);
    assert.equal(res.body, image.bytes.toString('utf8'));
  });

  it('refuses invalid manifest bodies with MANIFEST_INVALID or UNSUPPORTED, never 500', async () => {
    const bodies: Array<[string, Buffer, string]> = [
      ['truncated JSON', Buffer.from('{"schemaVersion": 2,'), OCI_MANIFEST],
      ['empty body', Buffer.alloc(0), OCI_MANIFEST],
      ['array', Buffer.from('[]'), OCI_MANIFEST],
      ['string', Buffer.from('"manifest"'), OCI_MANIFEST],
      ['binary', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]), OCI_MANIFEST],
      ['no layers', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST })), OCI_MANIFEST],
      ['deep nesting', Buffer.from(`${'['.repeat(100000)}${']'.repeat(100000)}`), OCI_MANIFEST],
    ];
    for (const [label, body, type] of bodies) {
      const res = await putManifest(reg.url, 'bad/body', 'v1', body, type);
      assert.equal(res.status, 400, label);
      assert.equal((await firstError(res)).code, 'MANIFEST_INVALID', label);
    }
    const schema1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'bad/body', tag: 'v1', fsLayers: [], history: [] }));
    const res = await putManifest(reg.url, 'bad/body', 'v1', schema1, 'application/vnd.docker.distribution.manifest.v1+prettyjws');
    assert.equal(res.status, 415);
    assert.equal((await firstError(res)).code, 'UNSUPPORTED');

    const garbageType = await raw(reg.url, 'PUT', '/v2/bad/body/manifests/v1', { 'content-type': 'not a media type' }, Buffer.from('{}'));
    assert.ok(garbageType.status === 400 || garbageType.status === 415, `status ${garbageType.status}`);
    assert.match(ociCode(garbageType), /^(MANIFEST_INVALID|UNSUPPORTED)$/);
    await stillServing();
  });

  it('refuses a giant manifest with 413 and keeps serving', async () => {
    const giant = Buffer.alloc(16 * 1024 * 1024, 0x7b);
    const res = await putManifest(reg.url, 'big/one', 'v1', giant);
    assert.equal(res.status, 413);
    assert.equal((await firstError(res)).code, 'MANIFEST_TOO_LARGE');
    await stillServing();
  });

  it('answers 405 UNSUPPORTED with Allow for a wrong method', async () => {
    const cases: Array<[string, string, string]> = [
      ['POST', '/v2/a/manifests/latest', 'GET, HEAD, PUT, DELETE'],
      ['PATCH', '/v2/', 'GET, HEAD'],
      ['PUT', '/v2/a/tags/list', 'GET'],
      ['OPTIONS', `/v2/a/blobs/${DIGEST}`, 'GET, HEAD, DELETE'],
      ['GET', '/v2/a/blobs/uploads/', 'POST'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await raw(reg.url, method, path);
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(ociCode(res), 'UNSUPPORTED');
      assert.equal(res.headers.allow, allow);
    }
  });

  it('answers unknown /v2 paths with a 404 OCI error', async () => {
    for (const path of ['/v2/a/unknown/thing', '/v2/a', '/v2/a/tags/other', '/v2/a/manifests/']) {
      const res = await raw(reg.url, 'GET', path);
      assert.equal(res.status, 404, path);
      assert.equal(ociCode(res), 'NOT_FOUND');
      assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
    }
    const outside = await raw(reg.url, 'GET', '/nothing');
    assert.equal(outside.status, 404);
  });

  it('refuses a malformed Content-Length with 400 and keeps serving', async () => {
    for (const length of ['abc', '-1', '1, 2']) {
      const answer = await rawSocket(
        reg.url,
        `PUT /v2/a/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: ${OCI_MANIFEST}\r\nContent-Length: ${length}\r\n\r\n{}`,
      );
      assert.match(answer, /^HTTP\/1\.1 400 /, `Content-Length: ${length}`);
    }
    await stillServing();
  });

  it('survives a client that dies in the middle of a manifest body', async () => {
    const image = await seededImage(reg.metadata, 'cut/app');
    const head = `PUT /v2/cut/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: ${OCI_MANIFEST}\r\nContent-Length: ${image.bytes.length}\r\n\r\n`;
    const answer = await rawSocket(reg.url, head + image.bytes.subarray(0, 50).toString('latin1'));
    assert.doesNotMatch(answer, / 201 /);
    const tag = await fetch(`${reg.url}/v2/cut/app/manifests/v1`);
    assert.equal(tag.status, 404, 'a half-sent manifest must not be stored');
    await tag.arrayBuffer();
    await stillServing();
  });

  it('answers 431 for a 20 KiB header and keeps serving', async () => {
    const res = await raw(reg.url, 'GET', '/v2/', { 'x-huge': 'h'.repeat(20 * 1024) });
    assert.equal(res.status, 431);
    await stillServing();
  });
});

describe('unexpected failures', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startTestRegistry({
      wrapMetadata: (m: Metadata): Metadata => ({
        repositories: {
          getRepository: async () => {
            throw new Error('boom: secret connection string');
          },
          ensureRepository: (name) => m.repositories.ensureRepository(name),
          createRepository: (name, visibility) => m.repositories.createRepository(name, visibility),
          getRepositoryById: (id) => m.repositories.getRepositoryById(id),
          setVisibility: (id, visibility) => m.repositories.setVisibility(id, visibility),
          setDescription: (id, description) => m.repositories.setDescription(id, description),
          deleteRepository: (id) => m.repositories.deleteRepository(id),
          countRepositories: (namespace) => m.repositories.countRepositories(namespace),
          listRepositories: (page) => m.repositories.listRepositories(page),
        },
        blobs: m.blobs,
        uploads: m.uploads,
        manifests: m.manifests,
        tags: m.tags,
        garbage: m.garbage,
        ping: () => m.ping(),
        close: () => m.close(),
      }),
    });
  });
  after(async () => {
    await reg?.close();
  });

  it('become 500 INTERNAL without internals, and the server goes on', async () => {
    const res = await fetch(`${reg.url}/v2/acme/app/manifests/latest`);
    assert.equal(res.status, 500);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), { errors: [{ code: 'INTERNAL', message: 'internal server error' }] });
    assert.ok(!text.includes('boom') && !text.includes('stack') && !text.includes('.js'));
    const catalog = await fetch(`${reg.url}/v2/_catalog`);
    assert.equal(catalog.status, 200);
    await catalog.arrayBuffer();
  });
});
