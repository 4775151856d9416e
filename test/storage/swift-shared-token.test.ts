// The fleet's shared Swift token (docs/storage-swift.md) against the real Keystone v3 and Swift of
// test/helpers/object-storage: two stores on one database use ONE token (Keystone, seen through a forwarding
// proxy, issues one; Swift, seen through another, gets one), tokens obtained before the database was attached
// converge on one, a refused shared token is replaced after Swift's 401, and a stopped database never fails a
// Swift call (the stores fall back to their own tokens, logged once, and share again once it is back).
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { storageValidationOf } from '../../src/cli/runtime.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { KyselySharedTokenCache } from '../../src/db/swift-tokens.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { parseStorageLocation } from '../../src/storage/factory.js';
import { SharedTokenLink } from '../../src/storage/shared-token-link.js';
import { createSwiftStore } from '../../src/storage/swift/driver.js';
import { swiftParamsSchema, type SwiftParams } from '../../src/storage/swift/params.js';
import { TokenSeal } from '../../src/storage/swift/token-seal.js';
import { keystoneToken } from '../helpers/object-storage/keystone.js';
import { objectStorage, randomName, type ObjectStorageServers } from '../helpers/object-storage/index.js';
import { startPrivatePostgres } from '../helpers/private-postgres.js';
import type { PrivateDatabaseServer } from '../helpers/private-db-process.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { waitUntil } from '../helpers/wait.js';

/** Per test: a loaded machine makes each Swift request take up to a second. */
const SLOW = { timeout: 180_000 };

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

/** A plain HTTP forwarder to `target` that records every request it passes on. */
async function forwarder(target: URL): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    seen.push({ method: incoming.method ?? '', path: incoming.url ?? '', headers: incoming.headers });
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers }, (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      pipeline(answer, outgoing).catch(() => undefined);
    });
    upstream.on('error', () => outgoing.destroy());
    pipeline(incoming, upstream).catch(() => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let servers: ObjectStorageServers;
let keystone: Awaited<ReturnType<typeof forwarder>>;
let swift: Awaited<ReturnType<typeof forwarder>>;
before(async () => {
  servers = await objectStorage();
  keystone = await forwarder(new URL(servers.keystone.authUrl));
  swift = await forwarder(new URL(servers.keystone.storageUrl));
});
after(async () => {
  await keystone.close();
  await swift.close();
});

/** Keystone v3 through the Keystone forwarder, Swift through the Swift one; `user` keeps tests' rows apart. */
function params(container: string, user: { name: string; password: string }): SwiftParams {
  return swiftParamsSchema.parse(configParams(container, user));
}

/** params() as a config.yaml's DISTRIBUTED_STORAGE_CONFIG entry has them, before the driver's schema. */
function configParams(container: string, user: { name: string; password: string }): Record<string, unknown> {
  const ks = servers.keystone;
  return {
    auth_url: `${keystone.url}${new URL(ks.authUrl).pathname}`,
    auth_version: 3,
    swift_user: user.name,
    swift_password: user.password,
    swift_container: container,
    storage_path: '/shared-token',
    os_options: {
      project_name: ks.projectName,
      user_domain_name: ks.userDomainName,
      project_domain_name: ks.projectDomainName,
      region_name: ks.regionName,
      object_storage_url: `${swift.url}${new URL(ks.storageUrl).pathname}`,
    },
  };
}

/** Token issuances Keystone answered through the forwarder since `from`. */
const issuances = (from: number) => keystone.seen.slice(from).filter((r) => r.method === 'POST' && r.path.endsWith('/auth/tokens')).length;
/** The X-Auth-Token values Swift got through the forwarder since `from`. */
const tokensSeen = (from: number) => new Set(swift.seen.slice(from).flatMap((r) => (typeof r.headers['x-auth-token'] === 'string' ? [r.headers['x-auth-token']] : [])));

interface Logged {
  warn: string[];
  info: string[];
}
const logTo = (logged: Logged) => ({ warn: (line: string) => logged.warn.push(line), info: (line: string) => logged.info.push(line) });

/** A store with a link of its own (as a process of its own has), on the same container. */
function storeFor(container: string, link: SharedTokenLink): BlobStore {
  return createSwiftStore(params(container, { name: servers.keystone.username, password: servers.keystone.password }), { location: 'shared', extraCa: [], now: Date.now, sharedTokens: link });
}

async function removeContainer(container: string): Promise<void> {
  const ks = servers.keystone;
  const token = (await keystoneToken(ks.authUrl, { name: ks.username, password: ks.password, projectName: ks.projectName })).token;
  const base = `${ks.storageUrl}/${container}`;
  const listing = await fetch(`${base}?format=json`, { headers: { 'x-auth-token': token } });
  const names = listing.status === 200 ? ((await listing.json()) as { name: string }[]).map((entry) => entry.name) : [];
  if (listing.status !== 200) await listing.arrayBuffer();
  for (const name of names) await (await fetch(`${base}/${name.split('/').map(encodeURIComponent).join('/')}`, { method: 'DELETE', headers: { 'x-auth-token': token } })).arrayBuffer();
  await (await fetch(base, { method: 'DELETE', headers: { 'x-auth-token': token } })).arrayBuffer();
}

/** Each test has a credentials row of its own: the stores of different tests must not share. */
async function clearShared(database: Database): Promise<void> {
  await database.db.deleteFrom('swift_auth_token').execute();
}

describe('SwiftStorage: one token for the fleet, through the database', () => {
  let fresh: FreshDatabase;
  let second: Database;
  before(async () => {
    fresh = await freshDatabase('postgres');
    // Each "instance" has a pool of its own, as two processes do.
    second = await openDatabase({ uri: fresh.uri });
  });
  after(async () => {
    await second.close();
    await fresh.drop();
  });

  test('two stores on one database authenticate once to Keystone and send Swift one token', SLOW, async () => {
    await clearShared(fresh.database);
    const container = randomName('shared');
    const logged: Logged = { warn: [], info: [] };
    const links = [new SharedTokenLink(), new SharedTokenLink()];
    links[0]!.attach(new KyselySharedTokenCache(fresh.database), logTo(logged));
    links[1]!.attach(new KyselySharedTokenCache(second), logTo(logged));
    const [one, two] = links.map((link) => storeFor(container, link)) as [BlobStore, BlobStore];
    const fromKeystone = keystone.seen.length;
    const fromSwift = swift.seen.length;
    try {
      await one.ping();
      await two.ping();
      await one.stat(`sha256:${'0'.repeat(64)}`);
      await two.stat(`sha256:${'0'.repeat(64)}`);
      assert.equal(issuances(fromKeystone), 1, 'Keystone issued one token for both stores');
      assert.equal(tokensSeen(fromSwift).size, 1, 'Swift saw one token');
      assert.deepEqual(logged, { warn: [], info: [] });
    } finally {
      await Promise.all([one.close?.(), two.close?.()]);
      await removeContainer(container);
    }
  });

  test('stores that authenticated before the database was attached converge on one token, without authenticating again', SLOW, async () => {
    await clearShared(fresh.database);
    const container = randomName('converge');
    const links = [new SharedTokenLink(), new SharedTokenLink()];
    const [one, two] = links.map((link) => storeFor(container, link)) as [BlobStore, BlobStore];
    const fromKeystone = keystone.seen.length;
    try {
      // As in serve: storage is checked before the database is open.
      await one.ping();
      await two.ping();
      assert.equal(issuances(fromKeystone), 2);
      const logged: Logged = { warn: [], info: [] };
      links[0]!.attach(new KyselySharedTokenCache(fresh.database), logTo(logged));
      links[1]!.attach(new KyselySharedTokenCache(second), logTo(logged));
      const digest = `sha256:${'1'.repeat(64)}`;
      await waitUntil('both stores to send the same token', async () => {
        const from = swift.seen.length;
        await one.stat(digest);
        await two.stat(digest);
        return tokensSeen(from).size === 1;
      }, 60_000, 100);
      assert.equal(issuances(fromKeystone), 2, 'converging took no authentication');
      const rows = await fresh.database.db.selectFrom('swift_auth_token').select('cache_key').execute();
      assert.equal(rows.length, 1);
      assert.deepEqual(logged, { warn: [], info: [] });
    } finally {
      await Promise.all([one.close?.(), two.close?.()]);
      await removeContainer(container);
    }
  });

  test('a shared token Swift refuses is dropped and replaced by one fresh authentication', SLOW, async () => {
    await clearShared(fresh.database);
    const container = randomName('refused');
    const seal = await TokenSeal.derive(params(container, { name: servers.keystone.username, password: servers.keystone.password }));
    const cache = new KyselySharedTokenCache(fresh.database);
    // A token that looks right to every instance (sealed under the right credentials) but that Swift refuses.
    const bogus = { token: `gAAAAAB-revoked-${randomName('t')}`, storageUrl: `${swift.url}${new URL(servers.keystone.storageUrl).pathname}`, expiresAt: Date.now() + 3600_000 };
    await cache.put(seal.key, seal.seal(bogus));
    const link = new SharedTokenLink();
    link.attach(new KyselySharedTokenCache(second), logTo({ warn: [], info: [] }));
    const store = storeFor(container, link);
    const fromKeystone = keystone.seen.length;
    const fromSwift = swift.seen.length;
    try {
      await store.ping();
      assert.equal(issuances(fromKeystone), 1, 'one authentication after the 401');
      const tokens = [...tokensSeen(fromSwift)];
      assert.equal(tokens[0], bogus.token, 'the shared token was tried first');
      assert.equal(tokens.length, 2);
      const record = await cache.get(seal.key, Date.now());
      assert.ok(record !== undefined, 'the fresh token is shared');
      assert.equal(seal.open(record)?.token, tokens[1]);
      assert.notEqual(record.fingerprint, seal.fingerprint(bogus.token));
      // The next store takes the fresh token: no authentication.
      const next = storeFor(container, link);
      await next.ping();
      await next.close?.();
      assert.equal(issuances(fromKeystone), 1);
    } finally {
      await store.close?.();
      await removeContainer(container);
    }
  });

  test('the superuser\'s on-demand validation checks with the fleet\'s token, and authenticates without it', SLOW, async () => {
    await clearShared(fresh.database);
    const container = randomName('validate');
    const link = new SharedTokenLink();
    link.attach(new KyselySharedTokenCache(fresh.database), logTo({ warn: [], info: [] }));
    const serving = storeFor(container, link);
    const checked = {
      locations: [parseStorageLocation('shared', ['SwiftStorage', configParams(container, { name: servers.keystone.username, password: servers.keystone.password })])],
      edge: { extraCa: { certificates: [], files: [] } },
    };
    try {
      await serving.ping();
      const fromKeystone = keystone.seen.length;
      const shared = await storageValidationOf(checked, link).validate();
      assert.deepEqual(shared.map((check) => [check.name, check.ok]), [['shared', true]]);
      assert.equal(issuances(fromKeystone), 0, 'the check took the token the serving store shares');
      const own = await storageValidationOf(checked).validate();
      assert.deepEqual(own.map((check) => [check.name, check.ok]), [['shared', true]]);
      assert.equal(issuances(fromKeystone), 1, 'without the link the check authenticates for itself');
    } finally {
      await serving.close?.();
      await removeContainer(container);
    }
  });
});

describe('SwiftStorage: the database stopped does not break Swift calls', () => {
  let postgres: PrivateDatabaseServer;
  let database: Database;
  before(async () => {
    postgres = await startPrivatePostgres();
    // Short timeouts: the pool's own, like a real deployment's, come after the sharing's.
    database = await openDatabase({ uri: postgres.uri, connectionArgs: { connect_timeout: 1, pool_timeout: 2 } });
    await migrateToLatest(database);
  });
  after(async () => {
    await database.close().catch(() => undefined);
    await postgres.destroy();
  });

  test('stores fall back to their own tokens while it is down (one warning), and share again once it is back', SLOW, async () => {
    const container = randomName('dbdown');
    const logged: Logged = { warn: [], info: [] };
    // Two stores of one process (as two locations on the same account are): one link, one outage to log.
    const link = new SharedTokenLink();
    link.attach(new KyselySharedTokenCache(database), logTo(logged));
    const [one, two] = [storeFor(container, link), storeFor(container, link)];
    const digest = `sha256:${'2'.repeat(64)}`;
    try {
      await one.ping();
      await postgres.stop();
      // A store with a token keeps working; a store without one authenticates on its own.
      await one.stat(digest);
      const fromKeystone = keystone.seen.length;
      await two.ping();
      assert.equal(issuances(fromKeystone), 1, 'the second store authenticated itself');
      for (let i = 0; i < 5; i += 1) {
        await one.stat(digest);
        await two.stat(digest);
      }
      assert.equal(logged.warn.length, 1, `one warning per outage and process: ${JSON.stringify(logged.warn)}`);
      assert.match(logged.warn[0] ?? '', /shared storage token cache does not answer/);
      await postgres.start();
      // Back: the second store adopts the first one's token (shared before the outage), no authentication.
      await waitUntil('the stores to share one token again', async () => {
        const from = swift.seen.length;
        await one.stat(digest);
        await two.stat(digest);
        return tokensSeen(from).size === 1;
      }, 90_000, 250);
      assert.equal(issuances(fromKeystone), 1);
      assert.equal(logged.warn.length, 1);
      assert.deepEqual(logged.info.length, 1, JSON.stringify(logged.info));
      assert.match(logged.info[0] ?? '', /answers again/);
    } finally {
      await Promise.all([one.close?.(), two.close?.()]);
      await removeContainer(container);
    }
  });
});
