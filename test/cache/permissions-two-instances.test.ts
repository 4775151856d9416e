// Two instances (two connections to one SQLite file, each with its own cache and access policy), with Redis
// and without: a permission, a team membership, a team's role, a robot or a repository's visibility changed
// through one is decided by the other's policy (what /v2/auth and /api/v1 ask) within the documented bound.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { ANONYMOUS, type Identity, type RepositoryAction } from '../../src/auth/identity.js';
import { PolicyService } from '../../src/auth/policy.js';
import { openCache, type OpenedCache } from '../../src/cache/open-cache.js';
import { parseConfig } from '../../src/config/load.js';
import type { AccountMetadata, AccountRecord } from '../../src/db/account-metadata.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createMetricsRegistry, type MetricsRegistry } from '../../src/metrics/registry.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { putTestManifest, testDigest } from '../helpers/test-manifests.js';
import { waitUntil } from '../helpers/wait.js';

const silent = pino({ level: 'silent' });
/** With Redis up an invalidation travels in milliseconds; this generous bound is what the test asserts. */
const LISTENING_BOUND_MS = 1_000;
const TTLS = { listeningMs: 60_000, aloneMs: 500 };
const PULL_PUSH: RepositoryAction[] = ['pull', 'push'];

interface Instance {
  metadata: Metadata;
  accounts: AccountMetadata;
  policy: PolicyService;
  cache: OpenedCache;
  metrics: MetricsRegistry;
  database: Database;
}

async function openInstance(file: string, redisPort: number | undefined, channel: string): Promise<Instance> {
  const database = await openDatabase({ uri: `sqlite:///${file}` });
  const yaml = redisPort === undefined ? 'DATA_MODEL_CACHE_CONFIG: {engine: inmemory}\n' : `USER_EVENTS_REDIS: {host: 127.0.0.1, port: ${redisPort}}\n`;
  const config = parseConfig(yaml, 'config.yaml', {}).config;
  const metrics = createMetricsRegistry();
  const cache = openCache(config, createMetadata(database), { logger: silent, metrics, keyPrefix: channel, ttls: TTLS });
  const accounts = cache.accounts(createAccountMetadata(database));
  const policy = new PolicyService(accounts, cache.metadata, { anonymousAccess: true, createNamespaceOnPush: false });
  return { metadata: cache.metadata, accounts, policy, cache, metrics, database };
}

async function counted(metrics: MetricsRegistry, name: string, what: string): Promise<number> {
  const values = (await metrics.getSingleMetric(name)?.get())?.values ?? [];
  return values.filter((v) => v.labels.what === what).reduce((sum, v) => sum + v.value, 0);
}
const permissionHits = (metrics: MetricsRegistry) => counted(metrics, 'quayside_cache_hits_total', 'permission');

const asUser = (account: AccountRecord): Identity => ({ kind: 'user', id: account.id, name: account.name, superuser: false });

const setups = [
  { name: 'shared Redis 127.0.0.1:6379', redis: 'shared' },
  { name: 'private Redis', redis: 'private' },
  { name: 'no Redis', redis: 'none' },
] as const;

for (const setup of setups) {
  describe(`permissions across two instances (${setup.name})`, () => {
    let dir: string;
    let redis: PrivateRedis | undefined;
    let a: Instance;
    let b: Instance;
    const channel = `quayside-test:${randomUUID()}:`;
    const listening = setup.redis !== 'none';
    /** A repository whose tag only the barrier below writes. */
    let barrier: number;

    /**
     * Waits until B has heard every invalidation A published so far: A's messages reach B in the order A sent
     * them, so once B drops its entry of the barrier's tag (invalidated by A's write just now), the earlier
     * ones have arrived too, and whatever B caches next stays until a new write.
     */
    async function settled(): Promise<void> {
      const tagMisses = () => counted(b.metrics, 'quayside_cache_misses_total', 'tag');
      await waitUntil('B to keep the barrier tag', async () => {
        const misses = await tagMisses();
        await b.metadata.tags.getTag(barrier, 'mark');
        return (await tagMisses()) === misses;
      });
      await a.metadata.tags.setTag(barrier, 'mark', testDigest(1));
      await waitUntil('B to hear the barrier', async () => {
        const misses = await tagMisses();
        await b.metadata.tags.getTag(barrier, 'mark');
        return (await tagMisses()) > misses;
      });
    }

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'quayside-permissions-'));
      const file = join(dir, 'quayside.db');
      const migrating = await openDatabase({ uri: `sqlite:///${file}` });
      await migrateToLatest(migrating);
      await migrating.close();
      let port: number | undefined;
      if (setup.redis === 'shared') port = 6379;
      if (setup.redis === 'private') {
        redis = await startPrivateRedis();
        port = redis.port;
      }
      a = await openInstance(file, port, channel);
      b = await openInstance(file, port, channel);
      if (listening) await waitUntil('both instances subscribed', () => a.cache.redis?.isUp() && b.cache.redis?.isUp());
      barrier = (await a.metadata.repositories.createRepository(`barrier/${randomUUID().slice(0, 8)}`, 'private')).repository.id;
      await putTestManifest(a.metadata, barrier, 1);
      await a.metadata.tags.setTag(barrier, 'mark', testDigest(1));
    });
    after(async () => {
      for (const instance of [a, b]) {
        await instance?.cache.close();
        await instance?.database.close();
      }
      await redis?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    /**
     * B's answer moves to `expected` after A's write: at once without Redis (nothing is cached then), within
     * the pub/sub bound with it. Returns how long it took.
     */
    async function seenByB(what: string, ask: () => Promise<RepositoryAction[]>, expected: RepositoryAction[]): Promise<number> {
      const started = Date.now();
      if (!listening) {
        assert.deepEqual(await ask(), expected, `${what}: the very next decision without Redis`);
        return 0;
      }
      await waitUntil(what, async () => JSON.stringify(await ask()) === JSON.stringify(expected));
      const took = Date.now() - started;
      assert.ok(took < LISTENING_BOUND_MS, `${what} seen after ${took} ms`);
      return took;
    }

    /**
     * With Redis, B's decision is kept in its cache (once A's earlier invalidations have reached it, so that only
     * the write that follows can drop it); without Redis, never.
     */
    async function cachedOnB(ask: () => Promise<RepositoryAction[]>, expected: RepositoryAction[]): Promise<void> {
      assert.deepEqual(await ask(), expected);
      if (!listening) {
        const hits = await permissionHits(b.metrics);
        assert.deepEqual(await ask(), expected);
        assert.equal(await permissionHits(b.metrics), hits, 'nothing is cached without Redis');
        return;
      }
      await settled();
      assert.deepEqual(await ask(), expected);
      const hits = await permissionHits(b.metrics);
      assert.deepEqual(await ask(), expected);
      assert.equal(await permissionHits(b.metrics), hits + 1, 'the decision is answered from the cache');
    }

    async function organization() {
      const suffix = randomUUID().slice(0, 8);
      const owner = await a.accounts.accounts.createUser({ name: `owner${suffix}`, email: null, passwordHash: null });
      const org = await a.accounts.accounts.createOrganization({ name: `acme${suffix}`, email: null, ownerId: owner.id });
      const { repository } = await a.metadata.repositories.createRepository(`${org.name}/app`, 'private');
      const user = (name: string) => a.accounts.accounts.createUser({ name: `${name}${suffix}`, email: null, passwordHash: null });
      return { org, repository, user };
    }

    it('a direct permission removed', async () => {
      const { repository, user } = await organization();
      const carol = await user('carol');
      await a.accounts.permissions.setPermission(repository.id, { kind: 'account', id: carol.id }, 'write');
      const ask = () => b.policy.allowedActions(asUser(carol), repository.name, PULL_PUSH);
      await cachedOnB(ask, PULL_PUSH);
      await a.accounts.permissions.deletePermission(repository.id, { kind: 'account', id: carol.id });
      await seenByB('the removed permission refused on B', ask, []);
    });

    it('a team membership removed, and a team role lowered', async () => {
      const { org, repository, user } = await organization();
      const bob = await user('bob');
      const readers = await a.accounts.teams.upsertTeam(org.id, 'readers', 'member', null);
      await a.accounts.teams.addMember(readers.id, bob.id);
      await a.accounts.permissions.setPermission(repository.id, { kind: 'team', id: readers.id }, 'read');
      const ask = () => b.policy.allowedActions(asUser(bob), repository.name, PULL_PUSH);
      await cachedOnB(ask, ['pull']);
      await a.accounts.teams.removeMember(readers.id, bob.id);
      await seenByB('the removed member refused on B', ask, []);

      // An admin team administers every repository of the organization; lowered to member, it gives nothing here.
      const admins = await a.accounts.teams.upsertTeam(org.id, 'admins', 'admin', null);
      await a.accounts.teams.addMember(admins.id, bob.id);
      await seenByB('the new admin seen on B', ask, PULL_PUSH);
      await cachedOnB(ask, PULL_PUSH);
      await a.accounts.teams.upsertTeam(org.id, 'admins', 'member', null);
      await seenByB('the lowered team seen on B', ask, []);
      assert.equal(await b.policy.administersNamespace(asUser(bob), org.name), false);
    });

    it('a robot deleted', async () => {
      const { org, repository } = await organization();
      const robot = await a.accounts.accounts.createRobot({ ownerId: org.id, name: `${org.name}+ci`, description: null, tokenHash: 'f'.repeat(64) });
      await a.accounts.permissions.setPermission(repository.id, { kind: 'account', id: robot.id }, 'read');
      const identity: Identity = { kind: 'robot', id: robot.id, name: robot.name, ownerId: org.id, ownerName: org.name };
      const ask = () => b.policy.allowedActions(identity, repository.name, PULL_PUSH);
      await cachedOnB(ask, ['pull']);
      assert.equal(await a.accounts.accounts.deleteAccount(robot.id), true);
      await seenByB('the deleted robot refused on B', ask, []);
    });

    it('a repository made private, then deleted and another created under its name', async () => {
      const { repository, user } = await organization();
      const dave = await user('dave');
      await a.metadata.repositories.setVisibility(repository.id, 'public');
      const signedIn = () => b.policy.allowedActions(asUser(dave), repository.name, PULL_PUSH);
      const anonymous = () => b.policy.allowedActions(ANONYMOUS, repository.name, PULL_PUSH);
      await seenByB('the public repository seen on B', signedIn, ['pull']);
      await cachedOnB(signedIn, ['pull']);
      assert.deepEqual(await anonymous(), ['pull']);
      await a.metadata.repositories.setVisibility(repository.id, 'private');
      await seenByB('the private repository refused to a signed-in user on B', signedIn, []);
      await seenByB('the private repository refused to anonymous callers on B', anonymous, []);

      // A grant on the deleted repository must not carry over to a new one, whatever id it gets.
      await a.accounts.permissions.setPermission(repository.id, { kind: 'account', id: dave.id }, 'read');
      await seenByB('the grant seen on B', signedIn, ['pull']);
      assert.equal(await a.metadata.repositories.deleteRepository(repository.id), true);
      await a.metadata.repositories.createRepository(repository.name, 'private');
      await seenByB('the new repository of the same name refused on B', signedIn, []);
    });

    if (setup.redis === 'private') {
      it('with Redis killed, nothing is cached: a permission removed counts at once', async () => {
        const { repository, user } = await organization();
        const erin = await user('erin');
        await a.accounts.permissions.setPermission(repository.id, { kind: 'account', id: erin.id }, 'read');
        const ask = () => b.policy.allowedActions(asUser(erin), repository.name, ['pull']);
        await cachedOnB(ask, ['pull']);
        await redis!.kill();
        await waitUntil('both to notice', () => !a.cache.redis!.isUp() && !b.cache.redis!.isUp());
        await a.accounts.permissions.deletePermission(repository.id, { kind: 'account', id: erin.id });
        assert.deepEqual(await ask(), [], 'refused on the very next decision');
        await redis!.restart();
        await waitUntil('both reconnected and subscribed', () => a.cache.redis!.isUp() && b.cache.redis!.isUp());
      });
    }
  });
}
