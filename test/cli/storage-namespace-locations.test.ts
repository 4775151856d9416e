// `quayside storage locations | add-location | remove-location` and the backfill of a namespace's own
// location, through the built binary on every SQL dialect: adding ap to acme then backfilling queues copies of
// acme's blobs to ap and of nobody else's; removing it deletes nothing. Each bad input is one line, exit 2.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import { KyselyPlacementIndex } from '../../src/db/placements.js';
import { assertOneLineFailure, runQuayside } from '../helpers/cli.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

/** Replication off: no default locations either (config validate would warn about them). */
function config(uri: string, work: string, replication = true): string {
  return `DB_URI: ${uri}
${replication ? 'FEATURE_STORAGE_REPLICATION: true\n' : ''}DISTRIBUTED_STORAGE_CONFIG:
  us: [LocalStorage, {storage_path: ${join(work, 'us')}}]
  eu: [LocalStorage, {storage_path: ${join(work, 'eu')}}]
  ap: [LocalStorage, {storage_path: ${join(work, 'ap')}}]
DISTRIBUTED_STORAGE_PREFERENCE: [us]
${replication ? 'DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [us, eu]\n' : ''}`;
}

for (const dialect of ALL_DIALECTS) {
  describe(`quayside storage namespace locations on ${dialect}`, () => {
    let work: string;
    let fresh: FreshDatabase;
    let file: string;
    let off: string;
    /** Blobs of acme/app (1-3, 3 also in bob/tool) and of bob/tool only (4). */
    const acmeBlobs = [digest(1), digest(2), digest(3)];

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'quayside-cli-nsloc-'));
      fresh = await freshDatabase(dialect);
      file = join(work, 'config.yaml');
      await writeFile(file, config(fresh.uri, work));
      off = join(work, 'off.yaml');
      await writeFile(off, config(fresh.uri, work, false));
      const accounts = createAccountMetadata(fresh.database);
      const metadata = createMetadata(fresh.database);
      const placements = new KyselyPlacementIndex(fresh.database, Date.now);
      const bob = await accounts.accounts.createUser({ name: 'bob', email: 'bob@example.com', passwordHash: null });
      await accounts.accounts.createOrganization({ name: 'acme', email: null, ownerId: bob.id });
      await accounts.accounts.createRobot({ ownerId: bob.id, name: 'bob+ci', description: null, tokenHash: 'e'.repeat(64) });
      for (const [repository, blobs, n] of [['acme/app', [1, 2, 3], 1], ['bob/tool', [3, 4], 2]] as const) {
        const { repository: repo } = await metadata.repositories.createRepository(repository, 'private');
        for (const b of blobs) {
          await metadata.blobs.recordBlob(digest(b), b);
          await metadata.blobs.linkBlob(repo.id, digest(b));
          for (const location of ['us', 'eu']) await placements.recordPlacement(digest(b), location);
        }
        await metadata.manifests.putManifest(repo.id, {
          digest: digest(100 + n),
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          artifactType: null,
          subjectDigest: null,
          annotations: null,
          bytes: Buffer.from(JSON.stringify({ n })),
          references: blobs.map((b) => ({ digest: digest(b), kind: 'blob' as const })),
        });
      }
    });

    after(async () => {
      await fresh?.drop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    const jobs = async () =>
      (await fresh.database.db.selectFrom('replication_job').select(['digest', 'location']).orderBy('location').orderBy('digest').execute()).map((j) => `${j.location} ${j.digest}`);

    it('lists, adds a location once, backfills it with that namespace\'s blobs only, and removes it deleting nothing', async () => {
      const shown = await runQuayside(work, 'storage', 'locations', 'acme', '--config', file);
      assert.equal(shown.code, 0, shown.stderr);
      assert.equal(shown.stdout, 'namespace acme: own storage locations: none\nits pushed blobs must reach: us, eu\n');

      const added = await runQuayside(work, 'storage', 'add-location', 'acme', 'ap', '--config', file);
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, /^storage location ap added to acme; `quayside storage backfill` queues copies of the blobs it has already$/m);
      assert.match(added.stdout, /^its pushed blobs must reach: us, eu, ap$/m);
      // The flags may come first too.
      const again = await runQuayside(work, 'storage', '--config', file, 'add-location', 'acme', 'ap');
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /^storage location ap was already one of acme's$/m);
      const audit = await fresh.database.db.selectFrom('audit_log').select(['kind', 'namespace', 'metadata']).where('kind', '=', 'org_add_storage_location').execute();
      assert.equal(audit.length, 1, 'one audit row: the second add changed nothing');
      assert.deepEqual(JSON.parse(audit[0]!.metadata), { source: 'cli', namespace: 'acme', location: 'ap' });

      const backfill = await runQuayside(work, 'storage', 'backfill', '--config', file);
      assert.equal(backfill.code, 0, backfill.stderr);
      assert.match(backfill.stdout, /^backfill us: queued 0 blob copies \(4 blobs already there\)/m);
      assert.match(backfill.stdout, /^backfill eu: queued 0 blob copies \(4 blobs already there\)/m);
      assert.match(backfill.stdout, /^backfill ap: queued 3 blob copies of the namespaces listing it \(acme\) \(0 blobs already there\) in [\d.]+ s$/m);
      assert.match(backfill.stderr, /^backfill ap: 3\/3$/m);
      assert.deepEqual(await jobs(), acmeBlobs.map((d) => `ap ${d}`), 'acme\'s blobs, not bob\'s blob 4');
      const narrowed = await runQuayside(work, 'storage', 'backfill', '--location', 'ap', '--config', file);
      assert.equal(narrowed.code, 0, narrowed.stderr);
      assert.match(narrowed.stdout, /^backfill ap: queued 3 blob copies of the namespaces listing it \(acme\)/m);
      assert.equal((await jobs()).length, 3, 'idempotent');

      const removed = await runQuayside(work, 'storage', 'remove-location', 'acme', 'ap', '--config', file);
      assert.equal(removed.code, 0, removed.stderr);
      assert.match(removed.stdout, /^storage location ap removed from acme: no new copies go there; copies already made stay and serve reads$/m);
      assert.match(removed.stdout, /^namespace acme: own storage locations: none$/m);
      const placements = new KyselyPlacementIndex(fresh.database, Date.now);
      assert.deepEqual(await placements.locationsOf(digest(1)), ['eu', 'us'], 'no placement is touched');
      const after = await runQuayside(work, 'storage', 'backfill', '--config', file);
      assert.doesNotMatch(after.stdout, /backfill ap/, 'nothing requires ap any more');
    });

    it('each bad input is one line and exit 2', async () => {
      const cases: [string[], RegExp][] = [
        [['storage', 'locations', 'nobody', '--config', file], /^quayside storage locations: no namespace \(user or organization\) named "nobody"$/],
        [['storage', 'add-location', 'nobody', 'ap', '--config', file], /^quayside storage add-location: no namespace \(user or organization\) named "nobody"$/],
        [['storage', 'add-location', 'bob+ci', 'ap', '--config', file], /^quayside storage add-location: "bob\+ci" is a robot account, not a namespace$/],
        [['storage', 'add-location', 'acme', 'mars', '--config', file], /^quayside storage add-location: storage location "mars" is not in DISTRIBUTED_STORAGE_CONFIG \(us, eu, ap\)$/],
        [['storage', 'add-location', 'acme', 'ap', '--config', off], /^quayside storage add-location: FEATURE_STORAGE_REPLICATION is off, so nothing would be copied/],
        [['storage', 'remove-location', 'acme', 'ap', '--config', file], /^quayside storage remove-location: "ap" is not one of the storage locations of acme$/],
        [['storage', 'remove-location', 'nobody', 'ap', '--config', file], /^quayside storage remove-location: no namespace/],
        [['storage', 'add-location', 'acme', '--config', file], /^quayside storage add-location: missing LOCATION \(usage: quayside storage add-location NAMESPACE LOCATION\)$/],
        [['storage', 'locations', 'acme', 'ap', '--config', file], /^quayside storage locations: unexpected argument "ap"/],
        [['storage', 'locations', 'acme', '--repair', '--config', file], /^quayside storage: Unknown option '--repair'/],
      ];
      for (const [args, pattern] of cases) assertOneLineFailure(await runQuayside(work, ...args), 2, pattern);
      assert.deepEqual(await createAccountMetadata(fresh.database).namespaceLocations.listedLocations(), [], 'nothing was added');
      // Listing still works with replication off, and says so.
      const listed = await runQuayside(work, 'storage', 'locations', 'acme', '--config', off);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^its pushed blobs are not replicated: FEATURE_STORAGE_REPLICATION is off$/m);
    });
  });
}
