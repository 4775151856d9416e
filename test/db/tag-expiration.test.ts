import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cachingMetadata } from '../../src/cache/caching-metadata.js';
import { LocalCache } from '../../src/cache/local-cache.js';
import type { AccountMetadata } from '../../src/db/account-metadata.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { GarbagePolicy, Metadata } from '../../src/db/metadata.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

// Tag expiry (a lifetime_end ahead of the clock), the quay.expires-after label, and the per-namespace time
// machine (restore and GC), on every dialect, with an injected clock.

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const BOUNDS = { minMs: HOUR, maxMs: 104 * WEEK };

for (const dialect of ALL_DIALECTS) {
  describe(`tag expiration and the time machine on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let metadata: Metadata;
    let accounts: AccountMetadata;
    let clock = 1_700_000_000_000;
    let next = 1;
    before(async () => {
      fresh = await freshDatabase(dialect);
      metadata = createMetadata(fresh.database, { now: () => clock });
      accounts = createAccountMetadata(fresh.database, { now: () => clock });
    });
    after(() => fresh.drop());

    async function repository(namespace = 'exp'): Promise<number> {
      return (await metadata.repositories.ensureRepository(`${namespace}/r${next++}`)).id;
    }
    async function manifest(repo: number, options: { expiresAfterS?: number; tags?: string[] } = {}): Promise<string> {
      const d = digest(next++);
      await metadata.manifests.putManifest(
        repo,
        {
          digest: d,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          artifactType: null,
          subjectDigest: null,
          annotations: null,
          bytes: Buffer.from(d),
          references: [],
          expiresAfterS: options.expiresAfterS ?? null,
        },
        options.tags,
      );
      return d;
    }
    const policy = (): GarbagePolicy => ({ now: clock, timeMachineMs: DAY, graceMs: HOUR });

    it('an expiry ahead keeps the tag current; at the expiry it leaves pulls and listings and joins the history', async () => {
      const repo = await repository();
      const m = await manifest(repo, { tags: ['v1', 'stays'] });
      const changed = await metadata.tags.setTagExpiration(repo, 'v1', clock + 2 * HOUR, BOUNDS);
      assert.deepEqual(changed, { previous: null });
      assert.equal((await metadata.tags.getTag(repo, 'v1'))?.lifetimeEnd?.getTime(), clock + 2 * HOUR);
      assert.equal((await metadata.manifests.getTaggedManifest(repo, 'v1'))?.tagLifetimeEnd?.getTime(), clock + 2 * HOUR);
      assert.deepEqual(await metadata.tags.listTags(repo, { limit: 10 }), ['stays', 'v1']);

      clock += 2 * HOUR;
      assert.equal(await metadata.tags.getTag(repo, 'v1'), undefined, 'expired exactly at its expiry');
      assert.equal(await metadata.manifests.getTaggedManifest(repo, 'v1'), undefined);
      assert.deepEqual(await metadata.tags.listTags(repo, { limit: 10 }), ['stays']);
      assert.equal(await metadata.tags.deleteTag(repo, 'v1'), false, 'an expired tag is not current, so not deletable');
      const history = await metadata.tags.tagHistory(repo, 'v1');
      assert.deepEqual(history.map((t) => [t.manifestDigest, t.lifetimeEnd?.getTime()]), [[m, clock]]);

      // Pushing the name again starts a new lifetime without expiry; the expired one stays history.
      await metadata.tags.setTag(repo, 'v1', m);
      assert.equal((await metadata.tags.getTag(repo, 'v1'))?.lifetimeEnd, null);
      assert.equal((await metadata.tags.tagHistory(repo, 'v1')).length, 2);
    });

    it('clears an expiry, clamps one to the bounds after the start, and answers undefined for no current tag', async () => {
      const repo = await repository();
      await manifest(repo, { tags: ['t'] });
      const start = clock;
      clock += 10 * 60_000;
      assert.deepEqual(await metadata.tags.setTagExpiration(repo, 't', clock + 60_000, BOUNDS), { previous: null });
      assert.equal((await metadata.tags.getTag(repo, 't'))?.lifetimeEnd?.getTime(), start + HOUR, 'raised to the minimum after the start');
      assert.deepEqual(await metadata.tags.setTagExpiration(repo, 't', clock + 1000 * WEEK, BOUNDS), { previous: new Date(start + HOUR) });
      assert.equal((await metadata.tags.getTag(repo, 't'))?.lifetimeEnd?.getTime(), start + 104 * WEEK, 'lowered to the maximum');
      assert.deepEqual(await metadata.tags.setTagExpiration(repo, 't', null, BOUNDS), { previous: new Date(start + 104 * WEEK) });
      assert.equal((await metadata.tags.getTag(repo, 't'))?.lifetimeEnd, null);
      assert.equal(await metadata.tags.setTagExpiration(repo, 'absent', null, BOUNDS), undefined);
      // A tag moved while expiring: the move ends the old lifetime now, the new one does not expire.
      await metadata.tags.setTagExpiration(repo, 't', clock + 5 * HOUR, BOUNDS);
      const other = await manifest(repo);
      await metadata.tags.setTag(repo, 't', other);
      const [moved, old] = await metadata.tags.tagHistory(repo, 't');
      assert.equal(moved?.lifetimeEnd, null);
      assert.equal(old?.lifetimeEnd?.getTime(), clock);
    });

    it('a manifest labelled quay.expires-after gives every tag pointed at it that expiry after its start', async () => {
      const repo = await repository();
      const labelled = await manifest(repo, { expiresAfterS: 3600, tags: ['pushed'] });
      assert.equal((await metadata.tags.getTag(repo, 'pushed'))?.lifetimeEnd?.getTime(), clock + HOUR);
      clock += 10 * 60_000;
      await metadata.tags.setTag(repo, 'later', labelled);
      assert.equal((await metadata.tags.getTag(repo, 'later'))?.lifetimeEnd?.getTime(), clock + HOUR, 'counted from the new start');
      clock += HOUR - 60_000;
      assert.deepEqual(await metadata.tags.listTags(repo, { limit: 10 }), ['later'], 'the first push expired, the later tag has a minute left');
      clock += 60_000;
      assert.deepEqual(await metadata.tags.listTags(repo, { limit: 10 }), []);
    });

    it('restores a deleted, moved or expired tag within the window, and refuses past it', async () => {
      const repo = await repository();
      const first = await manifest(repo, { tags: ['app'] });
      const second = await manifest(repo);
      await metadata.tags.setTag(repo, 'app', second);
      clock += HOUR;
      assert.deepEqual(await metadata.tags.restoreTag(repo, 'app', first, DAY), { kind: 'restored', previous: second }, 'moved: restorable');
      assert.equal((await metadata.tags.getTag(repo, 'app'))?.manifestDigest, first);

      await metadata.tags.deleteTag(repo, 'app');
      clock += DAY - 1;
      assert.deepEqual(await metadata.tags.restoreTag(repo, 'app', first, DAY), { kind: 'restored', previous: undefined }, 'deleted: restorable inside the window');

      await metadata.tags.setTagExpiration(repo, 'app', clock + 2 * HOUR, BOUNDS);
      clock += 2 * HOUR + DAY + 1;
      const refused = await metadata.tags.restoreTag(repo, 'app', first, DAY);
      assert.equal(refused.kind, 'outside-window', 'expired more than a day ago');
      assert.ok(refused.kind === 'outside-window' && refused.windowMs === DAY && refused.endedAt.getTime() === clock - DAY - 1);
      assert.equal(await metadata.tags.getTag(repo, 'app'), undefined, 'a refused restore changes nothing');
      assert.deepEqual(await metadata.tags.restoreTag(repo, 'app', digest(999_999), DAY), { kind: 'missing' });
      // A manifest the tag never pointed at is a plain move, as in Quay.
      const third = await manifest(repo);
      assert.equal((await metadata.tags.restoreTag(repo, 'app', third, DAY)).kind, 'restored');
    });

    it("uses the namespace's own window for restore and GC, the default for namespaces without one", async () => {
      const owner = await accounts.accounts.createUser({ name: 'windowed', email: null, passwordHash: null });
      const org = await accounts.accounts.createOrganization({ name: 'weekly', email: null, ownerId: owner.id });
      assert.equal(await accounts.accounts.getTagExpiration(org.id), null);
      await accounts.accounts.setTagExpiration(org.id, WEEK / 1000);
      assert.equal(await accounts.accounts.getTagExpiration(org.id), WEEK / 1000);

      const weekly = await repository('weekly');
      const plain = await repository('nobody');
      const kept = await manifest(weekly, { tags: ['old'] });
      const lost = await manifest(plain, { tags: ['old'] });
      await metadata.tags.deleteTag(weekly, 'old');
      await metadata.tags.deleteTag(plain, 'old');
      clock += 3 * DAY;

      assert.equal((await metadata.tags.restoreTag(plain, 'old', lost, DAY)).kind, 'outside-window', 'default window of one day');
      const found = await metadata.garbage.findRepositoryGarbage(weekly, policy());
      assert.deepEqual(found.manifests, [], "the organization's week keeps the deleted tag's manifest");
      const collectedPlain = await metadata.garbage.collectRepository(plain, policy());
      assert.deepEqual(collectedPlain.manifests, [lost]);
      assert.equal(collectedPlain.expiredTagLifetimes, 1);
      await metadata.garbage.collectRepository(weekly, policy());
      assert.ok(await metadata.manifests.hasManifest(weekly, kept));
      assert.deepEqual(await metadata.tags.restoreTag(weekly, 'old', kept, DAY), { kind: 'restored', previous: undefined });

      // A window of 0s: deleted tags are garbage at once (Quay's "no time machine").
      await accounts.accounts.setTagExpiration(org.id, 0);
      await metadata.tags.deleteTag(weekly, 'old');
      clock += 1;
      assert.equal((await metadata.tags.restoreTag(weekly, 'old', kept, DAY)).kind, 'outside-window');
      clock += HOUR;
      assert.deepEqual((await metadata.garbage.collectRepository(weekly, policy())).manifests, [kept]);
      await accounts.accounts.setTagExpiration(org.id, null);
      assert.equal(await accounts.accounts.getTagExpiration(org.id), null);
    });

    it('GC keeps the manifest of a tag whose expiry is ahead, and takes it a window after the expiry', async () => {
      const repo = await repository();
      const m = await manifest(repo, { expiresAfterS: 2 * 3600, tags: ['short'] });
      clock += HOUR + HOUR / 2;
      assert.deepEqual((await metadata.garbage.collectRepository(repo, policy())).manifests, [], 'still current');
      clock += HOUR;
      assert.deepEqual((await metadata.garbage.collectRepository(repo, policy())).manifests, [], 'expired, inside the window');
      clock += DAY;
      assert.deepEqual((await metadata.garbage.collectRepository(repo, policy())).manifests, [m]);
      assert.deepEqual(await metadata.tags.tagHistory(repo, 'short'), []);
    });

    it('the cache never serves a tag or tagged manifest past its expiry', async () => {
      const cache = new LocalCache({ maxEntries: 100, now: () => clock });
      const cached = cachingMetadata(metadata, { cache, listening: () => true, invalidate: (group) => cache.invalidate(group), now: () => clock });
      const repo = await repository();
      const m = await manifest(repo, { tags: ['c'] });
      await cached.tags.setTagExpiration(repo, 'c', clock + 2 * HOUR, BOUNDS);
      assert.equal((await cached.manifests.getTaggedManifest(repo, 'c'))?.digest, m);
      assert.equal((await cached.tags.getTag(repo, 'c'))?.manifestDigest, m);
      assert.ok(cache.size >= 2, 'both cached');
      clock += 2 * HOUR;
      assert.equal(await cached.manifests.getTaggedManifest(repo, 'c'), undefined);
      assert.equal(await cached.tags.getTag(repo, 'c'), undefined);
      // The entry itself lives no longer than the tag (10 s here), not the cache's 30 s.
      await cached.tags.setTag(repo, 'd', m);
      await cached.tags.setTagExpiration(repo, 'd', clock + 10_000, { minMs: 0, maxMs: WEEK });
      assert.ok(await cached.tags.getTag(repo, 'd'));
      assert.ok(cache.get(`tag:${repo}:d`), 'cached');
      clock += 10_000;
      assert.equal(cache.get(`tag:${repo}:d`), undefined, 'the entry expired with the tag');
    });

    it('the cache never lists a tag past its expiry', async () => {
      const cache = new LocalCache({ maxEntries: 100, now: () => clock });
      const cached = cachingMetadata(metadata, { cache, listening: () => true, invalidate: (group) => cache.invalidate(group), now: () => clock });
      const repo = await repository();
      await manifest(repo, { tags: ['keeps', 'leaves'] });
      await cached.tags.setTagExpiration(repo, 'leaves', clock + 2 * HOUR, BOUNDS);
      assert.deepEqual(await cached.tags.listTags(repo, { limit: 10 }), ['keeps', 'leaves']);
      assert.ok(cache.get(`tags:${repo}:10:`), 'the page is cached');
      clock += 2 * HOUR;
      assert.deepEqual(await cached.tags.listTags(repo, { limit: 10 }), ['keeps']);
    });
  });
}
