import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

for (const dialect of ALL_DIALECTS) {
  describe(`repository administration on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let metadata: Metadata;
    let clock = 1_700_000_000_000;
    before(async () => {
      fresh = await freshDatabase(dialect);
      metadata = createMetadata(fresh.database, { now: () => clock });
    });
    after(() => fresh.drop());

    /** Rows of `table` whose `column` is `value`, read straight from the database. */
    async function count(table: string, column: string, value: number): Promise<number> {
      const result = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)} where ${sql.ref(column)} = ${value}`.execute(
        fresh.database.db,
      );
      return Number(result.rows[0]?.n);
    }

    it('creates a repository with the asked visibility and reports who created it', async () => {
      const first = await metadata.repositories.createRepository('acme/app', 'public');
      assert.equal(first.created, true);
      assert.equal(first.repository.visibility, 'public');
      assert.equal(first.repository.namespace, 'acme');
      assert.deepEqual(first.repository.createdAt, new Date(clock));
      clock += 1000;
      const again = await metadata.repositories.createRepository('acme/app', 'private');
      assert.deepEqual(again, { repository: first.repository, created: false });
      assert.deepEqual(await metadata.repositories.getRepositoryById(first.repository.id), first.repository);
      assert.equal(await metadata.repositories.getRepositoryById(first.repository.id + 10_000), undefined);
    });

    it('gives created: true to exactly one of ten concurrent creators', async () => {
      for (const name of ['race/one', 'race/two', 'race/three']) {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => metadata.repositories.createRepository(name, i % 2 ? 'public' : 'private')),
        );
        assert.equal(results.filter((r) => r.created).length, 1, name);
        assert.equal(new Set(results.map((r) => r.repository.id)).size, 1, name);
        const winner = results.find((r) => r.created)!;
        assert.ok(results.every((r) => r.repository.visibility === winner.repository.visibility));
      }
    });

    it('changes visibility', async () => {
      const { repository } = await metadata.repositories.createRepository('acme/vis', 'private');
      await metadata.repositories.setVisibility(repository.id, 'public');
      assert.equal((await metadata.repositories.getRepositoryById(repository.id))?.visibility, 'public');
      await metadata.repositories.setVisibility(repository.id, 'private');
      assert.equal((await metadata.repositories.getRepository('acme/vis'))?.visibility, 'private');
    });

    it('counts repositories per namespace', async () => {
      assert.equal(await metadata.repositories.countRepositories('acme'), 2);
      assert.equal(await metadata.repositories.countRepositories('race'), 3);
      assert.equal(await metadata.repositories.countRepositories('ACME'), 0);
      assert.equal(await metadata.repositories.countRepositories('nobody'), 0);
    });

    it('deletes a repository with its links, uploads, manifests, references, tags and permissions', async () => {
      const accounts = createAccountMetadata(fresh.database, { now: () => clock });
      const user = await accounts.accounts.createUser({ name: 'del', email: null, passwordHash: null });
      const { repository } = await metadata.repositories.createRepository('del/app', 'private');
      const keep = await metadata.repositories.ensureRepository('del/keep');
      await metadata.blobs.recordBlob(digest(1), 10);
      await metadata.blobs.linkBlob(repository.id, digest(1));
      await metadata.blobs.linkBlob(keep.id, digest(1));
      await metadata.uploads.createUpload('upload-del-1', repository.id);
      await metadata.manifests.putManifest(repository.id, {
        digest: digest(2),
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: null,
        subjectDigest: null,
        annotations: null,
        bytes: Buffer.from('{}'),
        references: [{ digest: digest(1), kind: 'blob' }],
      });
      await metadata.tags.setTag(repository.id, 'latest', digest(2));
      await accounts.permissions.setPermission(repository.id, { kind: 'account', id: user.id }, 'admin');
      const manifestId = (await metadata.manifests.getManifest(repository.id, digest(2)))!.id;
      assert.equal(await count('manifest_reference', 'manifest_id', manifestId), 1);

      assert.equal(await metadata.repositories.deleteRepository(repository.id), true);
      assert.equal(await metadata.repositories.getRepositoryById(repository.id), undefined);
      for (const table of ['repository_blob', 'upload', 'manifest', 'tag', 'repository_permission']) {
        assert.equal(await count(table, 'repository_id', repository.id), 0, table);
      }
      assert.equal(await count('manifest_reference', 'manifest_id', manifestId), 0);
      assert.equal(await metadata.repositories.deleteRepository(repository.id), false);
      // The blob itself and other repositories' links stay.
      assert.ok(await metadata.blobs.getLinkedBlob(keep.id, digest(1)));
      assert.equal(await metadata.repositories.countRepositories('del'), 1);
    });
  });
}
