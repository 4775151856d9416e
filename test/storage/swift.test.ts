// SwiftStorage against the real Swift + Keystone of test/helpers/object-storage: the shared conformance suite
// with Keystone v3 and with v1 auth, then what is Swift's own: re-auth after a revoked token, temp URLs,
// nested SLO manifests past max_manifest_segments, aborts that leave nothing, an outage of the proxy.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { before, describe, test } from 'node:test';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { StorageFaultError } from '../../src/storage/faults.js';
import { createSwiftStore, swiftStorageDriver, type SwiftDriverTuning } from '../../src/storage/swift/driver.js';
import { swiftParamsSchema, type SwiftParams } from '../../src/storage/swift/params.js';
import { keystoneToken } from '../helpers/object-storage/keystone.js';
import { objectStorage, randomName, v1Auth, type ObjectStorageServers } from '../helpers/object-storage/index.js';
import { waitUntil } from '../helpers/wait.js';
import { collect, pattern, runBlobStoreConformance, sha256 } from './conformance.js';

let servers: ObjectStorageServers;
before(async () => {
  servers = await objectStorage();
});

const KiB = 1024;

function v3Params(container: string, extra: Partial<SwiftParams> = {}): SwiftParams {
  const ks = servers.keystone;
  return swiftParamsSchema.parse({
    auth_url: ks.authUrl,
    auth_version: 3,
    swift_user: ks.username,
    swift_password: ks.password,
    swift_container: container,
    storage_path: '/datastorage/registry',
    os_options: { project_name: ks.projectName, user_domain_name: ks.userDomainName, project_domain_name: ks.projectDomainName, region_name: ks.regionName },
    temp_url_key: servers.tempUrlKey,
    ...extra,
  });
}

function v1Params(container: string, extra: Partial<SwiftParams> = {}): SwiftParams {
  return swiftParamsSchema.parse({
    auth_url: servers.v1.authUrl,
    auth_version: 1,
    swift_user: servers.v1.user,
    swift_password: servers.v1.key,
    swift_container: container,
    storage_path: 'registry',
    ...extra,
  });
}

const context = (now: () => number = Date.now) => ({ location: 'test', extraCa: [], now });

/** Every object name in a container (raw listing, as an operator would check). */
async function listContainer(storageUrl: string, token: string, container: string): Promise<string[]> {
  const response = await fetch(`${storageUrl}/${container}?format=json&limit=10000`, { headers: { 'x-auth-token': token } });
  if (response.status === 404) return [];
  assert.ok(response.status === 200 || response.status === 204, `listing answered ${response.status}`);
  const text = await response.text();
  return text === '' ? [] : (JSON.parse(text) as { name: string }[]).map((entry) => entry.name);
}

async function dropContainer(storageUrl: string, token: string, container: string): Promise<void> {
  for (;;) {
    const names = await listContainer(storageUrl, token, container);
    if (names.length === 0) break;
    for (const name of names) await (await fetch(`${storageUrl}/${container}/${name}`, { method: 'DELETE', headers: { 'x-auth-token': token } })).arrayBuffer();
  }
  await (await fetch(`${storageUrl}/${container}`, { method: 'DELETE', headers: { 'x-auth-token': token } })).arrayBuffer();
}

async function v3Token(): Promise<string> {
  const ks = servers.keystone;
  return (await keystoneToken(ks.authUrl, { name: ks.username, password: ks.password, projectName: ks.projectName })).token;
}

async function appendAll(store: BlobStore, data: Buffer): Promise<string> {
  const id = randomUUID();
  await store.startUpload(id);
  assert.equal(await store.appendUpload(id, 0, Readable.from([data])), data.length);
  return id;
}

runBlobStoreConformance('swift v3', async () => {
  const container = randomName('conf-v3');
  // Segments of 16 MiB: every multi-append upload becomes a real SLO, the 64 MiB append four segments.
  const store = createSwiftStore(v3Params(container), context(), { segmentSizeBytes: 16 * 1024 * KiB });
  return { store, cleanup: async () => dropContainer(servers.keystone.storageUrl, await v3Token(), container) };
});

runBlobStoreConformance('swift v1', async () => {
  const container = randomName('conf-v1');
  const store = createSwiftStore(v1Params(container), context());
  return { store, cleanup: async () => { const { storageUrl, token } = await v1Auth(servers.v1.authUrl, servers.v1.user, servers.v1.key); await dropContainer(storageUrl, token, container); } };
});

/** Per test: a loaded machine makes each Swift request take up to a second. */
const SLOW = { timeout: 180_000 };

describe('SwiftStorage specifics', () => {
  test('the driver has Quay\'s name and a strict schema whose errors are one line naming the key', () => {
    assert.equal(swiftStorageDriver.name, 'SwiftStorage');
    const valid = { auth_url: 'https://keystone.example:5000/v3', auth_version: 3, swift_user: 'u', swift_password: 'p', swift_container: 'c', storage_path: '/x' };
    assert.equal(swiftParamsSchema.safeParse(valid).success, true);
    assert.equal(swiftParamsSchema.parse({ ...valid, auth_version: '3' }).auth_version, 3, 'YAML strings are accepted');
    const cases: [Record<string, unknown>, string][] = [
      [{ ...valid, auth_version: 4 }, 'auth_version'],
      [{ ...valid, swift_container: 'a/b' }, 'swift_container'],
      [{ ...valid, auth_url: 'keystone:5000' }, 'auth_url'],
      [{ ...valid, retry_count: 1.5 }, 'retry_count'],
      [{ ...valid, connect_timeout: 'soon' }, 'connect_timeout'],
      [{ ...valid, os_options: { project_nmae: 'typo' } }, 'project_nmae'],
      [{ ...valid, swift_pasword: 'typo' }, 'swift_pasword'],
      [(({ swift_user: _, ...rest }) => rest)(valid), 'swift_user'],
    ];
    for (const [params, key] of cases) {
      const result = swiftParamsSchema.safeParse(params);
      assert.equal(result.success, false, `${key} is refused`);
      const lines = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
      assert.equal(lines.length, 1, `one problem for ${key}: ${lines.join(' | ')}`);
      assert.ok((lines[0] as string).includes(key), `"${lines[0]}" names ${key}`);
      assert.ok(!(lines[0] as string).includes('\n'), 'one line');
    }
  });

  test('a revoked Keystone token is replaced by a fresh authentication, transparently', SLOW, async () => {
    const ks = servers.keystone;
    const admin = (await keystoneToken(ks.authUrl, ks.admin)).token;
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${ks.authUrl}${path}`, { method, headers: { 'x-auth-token': admin, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await response.text();
      assert.ok(response.status < 300, `${method} ${path}: ${response.status} ${text}`);
      return text === '' ? {} : (JSON.parse(text) as Record<string, { id: string }>);
    };
    // A user of this test's own, so that revoking its tokens disturbs no other test.
    const name = randomName('reauth');
    const password = 'reauth-secret-0123';
    const user = (await call('POST', '/users', { user: { name, password, domain_id: 'default' } })).user as { id: string };
    const roles = ((await call('GET', '/roles?name=member')) as unknown as { roles: { id: string }[] }).roles;
    await call('PUT', `/projects/${ks.projectId}/users/${user.id}/roles/${(roles[0] as { id: string }).id}`);
    const container = randomName('reauth');
    const store = createSwiftStore(v3Params(container, { swift_user: name, swift_password: password }), context());
    try {
      await store.ping();
      const probe = (await keystoneToken(ks.authUrl, { name, password, projectName: ks.projectName })).token;
      // Disabling a user revokes every token it holds (the store's and the probe); enabled again, it may
      // authenticate anew.
      await call('PATCH', `/users/${user.id}`, { user: { enabled: false } });
      await call('PATCH', `/users/${user.id}`, { user: { enabled: true } });
      // The proxy caches validated tokens for 10 s: once the probe is refused, so is the store's token.
      await waitUntil('the revoked probe token to be refused', async () => {
        const answer = await fetch(ks.storageUrl, { method: 'HEAD', headers: { 'x-auth-token': probe } });
        return answer.status === 401;
      }, 60_000, 500);
      // Keystone's revocation events have one-second granularity: wait until a token issued now is good.
      await waitUntil('a token issued after the revocation to be accepted', async () => {
        const fresh = await keystoneToken(ks.authUrl, { name, password, projectName: ks.projectName });
        const probe = await fetch(ks.storageUrl, { method: 'HEAD', headers: { 'x-auth-token': fresh.token } });
        return probe.status === 204 || probe.status === 200;
      }, 30_000, 200);
      await store.ping();
      const data = pattern(5000, 7);
      const id = await appendAll(store, data);
      await store.commitUpload(id, sha256(data));
      assert.deepEqual(await collect(await store.read(sha256(data))), data);
    } finally {
      await store.close?.();
      await dropContainer(ks.storageUrl, await v3Token(), container);
      await call('DELETE', `/users/${user.id}`);
    }
  });

  test('a token past its expiry (by the injected clock) is not used: the store authenticates again', SLOW, async () => {
    let offset = 0;
    const container = randomName('expiry');
    const store = createSwiftStore(v3Params(container), context(() => Date.now() + offset));
    try {
      await store.ping();
      // Keystone's tokens live an hour here: two hours on, the cached one counts as expired.
      offset = 2 * 3600 * 1000;
      await store.ping();
      assert.equal(await store.stat(sha256(Buffer.from('absent'))), undefined);
    } finally {
      await store.close?.();
      await dropContainer(servers.keystone.storageUrl, await v3Token(), container);
    }
  });

  test('redirectUrl is a temp URL that plain fetch can GET; an expired one is refused', SLOW, async () => {
    const container = randomName('tempurl');
    const store = createSwiftStore(v3Params(container), context());
    const data = pattern(3000, 11);
    try {
      const id = await appendAll(store, data);
      await store.commitUpload(id, sha256(data));
      const url = await store.redirectUrl?.(sha256(data));
      assert.ok(url !== undefined && url.includes('temp_url_sig='), `a temp URL: ${url}`);
      const got = await fetch(url);
      assert.equal(got.status, 200);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), data);

      const inThePast = createSwiftStore(v3Params(container), context(() => Date.now() - 3600 * 1000));
      const expired = await inThePast.redirectUrl?.(sha256(data));
      assert.ok(expired !== undefined);
      assert.equal((await fetch(expired)).status, 401);
      await inThePast.close?.();

      const noKey = createSwiftStore(v3Params(container, { temp_url_key: undefined }), context());
      assert.equal(await noKey.redirectUrl?.(sha256(data)), undefined, 'no temp_url_key, no redirect');
      await noKey.close?.();
    } finally {
      await store.close?.();
      await dropContainer(servers.keystone.storageUrl, await v3Token(), container);
    }
  });

  test('Swift refuses a flat SLO manifest of more than 1000 segments (the limit the driver nests below)', SLOW, async () => {
    const { storageUrl, token } = await v1Auth(servers.v1.authUrl, servers.v1.user, servers.v1.key);
    const container = randomName('slo-limit');
    try {
      await fetch(`${storageUrl}/${container}`, { method: 'PUT', headers: { 'x-auth-token': token } });
      await fetch(`${storageUrl}/${container}/one`, { method: 'PUT', headers: { 'x-auth-token': token }, body: 'x' });
      const manifest = (count: number) => JSON.stringify(Array.from({ length: count }, () => ({ path: `/${container}/one`, size_bytes: 1 })));
      const put = (count: number) =>
        fetch(`${storageUrl}/${container}/manifest-${count}?multipart-manifest=put`, { method: 'PUT', headers: { 'x-auth-token': token }, body: manifest(count) });
      // The driver reads this limit from /info (and nests below it).
      const info = (await (await fetch(`${servers.v1.proxyUrl}/info`)).json()) as { slo: { max_manifest_segments: number } };
      assert.equal(info.slo.max_manifest_segments, 1000);
      const tooMany = await put(1001);
      assert.equal(tooMany.status, 413, await tooMany.text());
      assert.equal((await put(1000)).status, 201);
    } finally {
      await dropContainer(storageUrl, token, container);
    }
  });

  test('more segments than the manifest limit commit as nested SLOs (two levels); delete removes them all', SLOW, async () => {
    const container = randomName('nested');
    // The limit lowered to 3 (Swift's is 1000, checked above): 10 segments need two levels of nesting.
    const tuning: Partial<SwiftDriverTuning> = { segmentSizeBytes: 64, maxManifestSegments: 3 };
    const store = createSwiftStore(v1Params(container), context(), tuning);
    const { storageUrl, token } = await v1Auth(servers.v1.authUrl, servers.v1.user, servers.v1.key);
    const data = pattern(64 * 9 + 17, 13);
    try {
      const id = await appendAll(store, data);
      assert.equal(await store.uploadSize(id), data.length);
      await store.commitUpload(id, sha256(data));
      assert.deepEqual(await store.stat(sha256(data)), { size: data.length });
      assert.deepEqual(await collect(await store.read(sha256(data))), data);
      assert.deepEqual(await collect(await store.read(sha256(data), { start: 64 * 2 + 5, end: 64 * 7 })), data.subarray(64 * 2 + 5, 64 * 7 + 1));
      assert.deepEqual(await store.listStaleUploads(new Date(Date.now() + 60_000)), [], 'a committed upload is not stale');
      const names = await listContainer(storageUrl, token, container);
      assert.equal(names.filter((name) => /\/manifest-1-/.test(name)).length, 4, 'four first-level manifests');
      assert.equal(names.filter((name) => /\/manifest-2-/.test(name)).length, 2, 'two second-level manifests');
      await store.delete(sha256(data));
      assert.deepEqual(await listContainer(storageUrl, token, container), [], 'the manifests and all 10 segments are gone');
    } finally {
      await store.close?.();
      await dropContainer(storageUrl, token, container);
    }
  });

  test('an upload\'s size is read with its marker HEAD and its listing one after the other, never both at once', SLOW, async () => {
    // A plain forwarding proxy in front of the real storage URL (object_storage_url) sees every request of the
    // store. Two requests at once with a token the Swift proxy has not validated lately would be two Keystone
    // validations, answered one after the other by Keystone.
    const target = new URL(servers.keystone.storageUrl);
    let inFlight = 0;
    let mostInFlight = 0;
    const seen: string[] = [];
    const forwarder: Server = createServer((incoming, outgoing) => {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      seen.push(`${incoming.method} ${incoming.url?.includes('format=json') ? 'listing' : 'object'}`);
      const upstream = httpRequest({ host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers }, (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        pipeline(answer, outgoing).catch(() => undefined).finally(() => {
          inFlight -= 1;
        });
      });
      upstream.on('error', () => outgoing.destroy());
      pipeline(incoming, upstream).catch(() => undefined);
    });
    await new Promise<void>((resolve) => forwarder.listen(0, '127.0.0.1', resolve));
    const address = forwarder.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const container = randomName('sequence');
    const storageUrl = `http://127.0.0.1:${port}${target.pathname}`;
    const store = createSwiftStore(v3Params(container, { os_options: { ...v3Params(container).os_options, object_storage_url: storageUrl } }), context());
    try {
      const id = await appendAll(store, pattern(3 * KiB, 21));
      seen.length = 0;
      mostInFlight = 0;
      assert.equal(await store.uploadSize(id), 3 * KiB);
      assert.deepEqual(seen, ['HEAD object', 'GET listing']);
      assert.equal(mostInFlight, 1, 'one request at a time');
      await store.abortUpload(id);
    } finally {
      await store.close?.();
      await new Promise<void>((resolve) => forwarder.close(() => resolve()));
      await dropContainer(servers.keystone.storageUrl, await v3Token(), container);
    }
  });

  test('abort leaves no segment and no marker behind', SLOW, async () => {
    const container = randomName('abort');
    const store = createSwiftStore(v1Params(container), context(), { segmentSizeBytes: 1000 });
    const { storageUrl, token } = await v1Auth(servers.v1.authUrl, servers.v1.user, servers.v1.key);
    try {
      const id = await appendAll(store, pattern(4500, 17));
      await store.appendUpload(id, 4500, Readable.from([pattern(2000, 18)]));
      assert.equal((await listContainer(storageUrl, token, container)).length, 8, 'seven segments and the marker');
      await store.abortUpload(id);
      assert.deepEqual(await listContainer(storageUrl, token, container), []);
    } finally {
      await store.close?.();
      await dropContainer(storageUrl, token, container);
    }
  });

  test('a stopped proxy gives StorageFaultError "unavailable" within the configured retries, and the store recovers', SLOW, async () => {
    const proxy = await servers.startPrivateProxy();
    const container = randomName('outage');
    const retries = 2;
    const connectTimeoutS = 2;
    const store = createSwiftStore(v1Params(container, { auth_url: proxy.v1AuthUrl, connect_timeout: connectTimeoutS, retry_count: retries }), context(), {
      retryBaseDelayMs: 100,
      retryMaxDelayMs: 400,
      idleTimeoutMs: 5_000,
    });
    const data = pattern(2000, 19);
    try {
      const id = await appendAll(store, data);
      await store.commitUpload(id, sha256(data));
      await proxy.stop();
      const started = Date.now();
      await assert.rejects(store.stat(sha256(data)), (error: unknown) => error instanceof StorageFaultError && error.kind === 'unavailable');
      await assert.rejects(store.read(sha256(data)), (error: unknown) => error instanceof StorageFaultError && error.kind === 'unavailable');
      await assert.rejects(store.appendUpload(randomUUID(), 0, Readable.from([data])), (error: unknown) => error instanceof StorageFaultError && error.kind === 'unavailable');
      // Not a speed check: the bound is what the configuration allows (each try up to the idle timeout).
      const allowed = 3 * (retries + 1) * 5_000;
      assert.ok(Date.now() - started < allowed, `failed after ${Date.now() - started} ms, the configuration allows ${allowed} ms`);
      await proxy.start();
      assert.deepEqual(await store.stat(sha256(data)), { size: data.length });
      assert.deepEqual(await collect(await store.read(sha256(data))), data);
    } finally {
      await store.close?.();
      await proxy.stop();
      const { storageUrl, token } = await v1Auth(servers.v1.authUrl, servers.v1.user, servers.v1.key);
      await dropContainer(storageUrl, token, container);
    }
  });

  test('wrong credentials are a permission-denied fault naming no secret', SLOW, async () => {
    const store = createSwiftStore(v3Params(randomName('denied'), { swift_password: 'wrong-password' }), context());
    await assert.rejects(store.ping(), (error: unknown) => {
      assert.ok(error instanceof StorageFaultError && error.kind === 'permission-denied', String(error));
      assert.ok(!error.message.includes('wrong-password'));
      return true;
    });
    await store.close?.();
  });
});
