// A namespace's own storage locations (user_region, Quay's UserRegion) on every dialect: idempotent add and
// remove, the lookups a push and a backfill make, the rows going with their account, and the blobs a
// namespace location must hold (those its namespaces' manifests reference), paged and counted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { AccountMetadata } from '../../src/db/account-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { PlacementAudit } from '../../src/db/placement-audit.js';
import { KyselyPlacementIndex } from '../../src/db/placements.js';
import { NamespaceGoneError } from '../../src/db/namespace-locations.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

for (const dialect of ALL_DIALECTS) {
  describe(`namespace storage locations on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let accounts: AccountMetadata;
    let metadata: Metadata;
    let acme: number;
    let bob: number;
    before(async () => {
      fresh = await freshDatabase(dialect);
      accounts = createAccountMetadata(fresh.database);
      metadata = createMetadata(fresh.database);
      bob = (await accounts.accounts.createUser({ name: 'bob', email: 'bob@example.com', passwordHash: null })).id;
      acme = (await accounts.accounts.createOrganization({ name: 'acme', email: null, ownerId: bob })).id;
    });
    after(() => fresh.drop());

    it('adds a location once however often it is added, lists and removes it', async () => {
      const store = accounts.namespaceLocations;
      assert.deepEqual(await store.list(acme), []);
      assert.equal(await store.add(acme, 'ap'), true);
      assert.equal(await store.add(acme, 'ap'), false, 'the second add reports it was there');
      const concurrent = await Promise.all(Array.from({ length: 10 }, () => store.add(acme, 'sa')));
      assert.equal(concurrent.filter(Boolean).length, 1, 'of ten concurrent adds exactly one made the row');
      assert.deepEqual(await store.list(acme), ['ap', 'sa']);
      assert.deepEqual(await store.forNamespace('acme'), ['ap', 'sa']);
      assert.deepEqual(await store.forNamespace('nobody'), []);
      await store.add(bob, 'ap');
      assert.deepEqual(await store.listedLocations(), ['ap', 'sa']);
      assert.deepEqual(await store.namespacesListing('ap'), ['acme', 'bob']);
      assert.equal(await store.remove(acme, 'sa'), true);
      assert.equal(await store.remove(acme, 'sa'), false);
      assert.deepEqual(await store.list(acme), ['ap']);
      assert.deepEqual(await store.listedLocations(), ['ap']);
    });

    it('finds, pages and counts the blobs a namespace location must hold: those its namespaces\' manifests reference', async () => {
      const placements = new KyselyPlacementIndex(fresh.database, Date.now);
      const audit = new PlacementAudit(fresh.database);
      // acme/app references blobs 1-3, bob/tool blob 3 and 4, other/x (an org that lists nothing) blob 5;
      // blob 6 is linked in acme/app but referenced by no manifest.
      const other = (await accounts.accounts.createOrganization({ name: 'other', email: null, ownerId: bob })).id;
      assert.ok(other > 0);
      const seed = async (repository: string, blobs: number[], n: number) => {
        const { repository: repo } = await metadata.repositories.createRepository(repository, 'private');
        for (const b of blobs) {
          await metadata.blobs.recordBlob(digest(b), b);
          await metadata.blobs.linkBlob(repo.id, digest(b));
        }
        await metadata.manifests.putManifest(repo.id, {
          digest: digest(1000 + n),
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          artifactType: null,
          subjectDigest: null,
          annotations: null,
          bytes: Buffer.from(JSON.stringify({ n })),
          references: blobs.map((b) => ({ digest: digest(b), kind: 'blob' as const })),
        });
        return repo.id;
      };
      const app = await seed('acme/app', [1, 2, 3], 1);
      await seed('bob/tool', [3, 4], 2);
      await seed('other/x', [5], 3);
      await metadata.blobs.recordBlob(digest(6), 6);
      await metadata.blobs.linkBlob(app, digest(6));
      await placements.recordPlacement(digest(2), 'ap');

      // ap is listed by acme and bob (previous test): blobs 1, 3, 4 are missing from it; 2 is there.
      const first = await placements.blobsMissingFrom('ap', { limit: 2, required: 'listing-namespaces' });
      assert.deepEqual(first, [
        { digest: digest(1), size: 1 },
        { digest: digest(3), size: 3 },
      ]);
      const rest = await placements.blobsMissingFrom('ap', { after: digest(3), limit: 2, required: 'listing-namespaces' });
      assert.deepEqual(rest.map((b) => b.digest), [digest(4)], 'blob 3, referenced from two namespaces, comes once');
      assert.equal(await audit.countBlobsMissingFrom('ap', 'listing-namespaces'), 3);
      assert.equal(await audit.countRequiredBlobs('ap', 'listing-namespaces'), 4);
      assert.equal(await audit.countBlobsMissingFrom('ap'), 5, 'every blob but 2: 1, 3, 4, 5, 6');
      assert.equal(await audit.countRequiredBlobs('ap', 'every-blob'), 6);

      // A location nobody lists requires nothing of a namespace.
      assert.deepEqual(await placements.blobsMissingFrom('sa', { limit: 10, required: 'listing-namespaces' }), []);
      assert.equal(await audit.countRequiredBlobs('sa', 'listing-namespaces'), 0);
    });

    it('drops a namespace\'s locations with its account, and touches no placement', async () => {
      const placements = new KyselyPlacementIndex(fresh.database, Date.now);
      const temp = await accounts.accounts.createOrganization({ name: 'temp', email: null, ownerId: bob });
      await accounts.namespaceLocations.add(temp.id, 'eu');
      assert.deepEqual(await accounts.namespaceLocations.listedLocations(), ['ap', 'eu']);
      assert.equal(await accounts.accounts.deleteAccount(temp.id), true);
      assert.deepEqual(await accounts.namespaceLocations.listedLocations(), ['ap']);
      assert.deepEqual(await placements.locationsOf(digest(2)), ['ap']);
    });

    it('refuses to add a location to an account deleted since it was looked up, in words, and writes nothing', async () => {
      const gone = await accounts.accounts.createOrganization({ name: 'gone', email: null, ownerId: bob });
      assert.equal(await accounts.accounts.deleteAccount(gone.id), true);
      await assert.rejects(accounts.namespaceLocations.add(gone.id, 'eu'), (error: unknown) => error instanceof NamespaceGoneError && error.accountId === gone.id);
      assert.deepEqual(await accounts.namespaceLocations.list(gone.id), []);
      assert.deepEqual(await accounts.namespaceLocations.listedLocations(), ['ap']);
    });
  });
}
