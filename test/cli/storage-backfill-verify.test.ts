// `quayside storage backfill` and `quayside storage verify [--repair]` through the built binary, on every SQL
// dialect: backfill queues exactly the missing (blob, location) pairs, idempotently, with progress; verify
// finds missing and wrong-sized copies, --repair forgets them and queues copies; bad input is one line.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { KyselyBlobIndex } from '../../src/db/blobs.js';
import { KyselyPlacementIndex } from '../../src/db/placements.js';
import { KyselyReplicationQueue } from '../../src/db/replication-jobs.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { assertOneLineFailure, runQuayside } from '../helpers/cli.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

async function put(store: BlobStore, data: Buffer, digest = `sha256:${createHash('sha256').update(data).digest('hex')}`): Promise<string> {
  const id = randomUUID();
  await store.startUpload(id);
  await store.appendUpload(id, 0, Readable.from([data]));
  await store.commitUpload(id, digest);
  return digest;
}

for (const dialect of ALL_DIALECTS) {
  describe(`quayside storage backfill and verify on ${dialect}`, () => {
    let work: string;
    let fresh: FreshDatabase;
    let config: string;
    let us: LocalBlobStore;
    let eu: LocalBlobStore;
    const digests: string[] = [];

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'quayside-cli-backfill-'));
      fresh = await freshDatabase(dialect);
      config = join(work, 'config.yaml');
      await writeFile(
        config,
        `DB_URI: ${fresh.uri}
FEATURE_STORAGE_REPLICATION: true
DISTRIBUTED_STORAGE_CONFIG:
  us: [LocalStorage, {storage_path: ${join(work, 'us')}}]
  eu: [LocalStorage, {storage_path: ${join(work, 'eu')}}]
DISTRIBUTED_STORAGE_PREFERENCE: [us]
DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [us, eu]
`,
      );
      us = new LocalBlobStore(join(work, 'us'));
      eu = new LocalBlobStore(join(work, 'eu'));
      const blobs = new KyselyBlobIndex(fresh.database, Date.now);
      const placements = new KyselyPlacementIndex(fresh.database, Date.now);
      // Five blobs in us, the first two in eu as well.
      for (let i = 0; i < 5; i += 1) {
        const data = Buffer.from(`blob ${i} ${'x'.repeat(100 * i)}`);
        const digest = await put(us, data);
        await blobs.recordBlob(digest, data.length);
        await placements.recordPlacement(digest, 'us');
        if (i < 2) {
          await put(eu, data);
          await placements.recordPlacement(digest, 'eu');
        }
        digests.push(digest);
      }
    });

    after(async () => {
      await fresh?.drop();
      await rm(work, { recursive: true, force: true });
    });

    const queued = async () => (await new KyselyReplicationQueue(fresh.database, Date.now).stats()).queued;

    it('backfill queues every blob missing from each required location, once, with progress and a summary', async () => {
      const result = await runQuayside(work, 'storage', 'backfill', '--config', config);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^backfill us: queued 0 blob copies \(5 blobs already there\) in [\d.]+ s$/m);
      assert.match(result.stdout, /^backfill eu: queued 3 blob copies \(2 blobs already there\) in [\d.]+ s$/m);
      assert.match(result.stderr, /^backfill eu: 3\/3$/m, 'progress (one line per phase off a terminal)');
      assert.equal(await queued(), 3);
      const again = await runQuayside(work, 'storage', 'backfill', '--config', config, '--location', 'eu');
      assert.equal(again.code, 0, again.stderr);
      assert.equal(await queued(), 3, 'a second backfill adds no duplicate job');
    });

    it('verify reports every placement ok, then the missing and wrong-sized copies (exit 1), leaving them alone', async () => {
      const clean = await runQuayside(work, 'storage', 'verify', '--config', config);
      assert.equal(clean.code, 0, clean.stderr);
      assert.match(clean.stdout, /^verified 7 placements: 7 ok, 0 missing, 0 wrong size, 0 unreachable, 0 in unknown locations in [\d.]+ s$/m);
      assert.match(clean.stderr, /^verify: 7\/7$/m);

      await eu.delete(digests[0]!);
      await us.delete(digests[1]!);
      await put(us, Buffer.from('not the bytes of this blob'), digests[1]!);
      const dirty = await runQuayside(work, 'storage', 'verify', '--config', config);
      assert.equal(dirty.code, 1, dirty.stderr);
      assert.match(dirty.stdout, new RegExp(`^missing ${digests[0]} in eu: no object$`, 'm'));
      assert.match(dirty.stdout, new RegExp(`^wrong-size ${digests[1]} in us: 26 bytes, the blob has \\d+$`, 'm'));
      assert.match(dirty.stdout, /^verified 7 placements: 5 ok, 1 missing, 1 wrong size, 0 unreachable/m);
      const placements = new KyselyPlacementIndex(fresh.database, Date.now);
      assert.deepEqual(await placements.locationsOf(digests[0]!), ['eu', 'us'], 'without --repair nothing changes');

      const only = await runQuayside(work, 'storage', 'verify', '--config', config, '--location', 'us');
      assert.equal(only.code, 1);
      assert.match(only.stdout, /^verified 5 placements: 4 ok, 0 missing, 1 wrong size/m, 'only the placements of --location');
    });

    it('verify --repair deletes the wrong object, forgets both placements and queues both copies', async () => {
      const before = await queued();
      const result = await runQuayside(work, 'storage', 'verify', '--repair', '--config', config);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^missing ${digests[0]} in eu: no object \\(repaired: placement forgotten, copy queued\\)$`, 'm'));
      assert.match(result.stdout, /, 2 repaired in [\d.]+ s$/m);
      const placements = new KyselyPlacementIndex(fresh.database, Date.now);
      assert.deepEqual(await placements.locationsOf(digests[0]!), ['us']);
      assert.deepEqual(await placements.locationsOf(digests[1]!), ['eu']);
      assert.equal(await us.stat(digests[1]!), undefined, 'the wrong object is gone, so the copy can be made');
      assert.equal(await queued(), before + 2);
      const after = await runQuayside(work, 'storage', 'verify', '--config', config);
      assert.equal(after.code, 0, 'what is left is consistent');
      assert.match(after.stdout, /^verified 5 placements: 5 ok/m);
    });
  });
}

describe('quayside storage backfill and verify: bad input', () => {
  let work: string;
  let config: string;
  let noDefaults: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'quayside-cli-backfill-bad-'));
    config = join(work, 'config.yaml');
    const storage = `FEATURE_STORAGE_REPLICATION: true
DISTRIBUTED_STORAGE_CONFIG:
  us: [LocalStorage, {storage_path: ${join(work, 'us')}}]
  eu: [LocalStorage, {storage_path: ${join(work, 'eu')}}]
DISTRIBUTED_STORAGE_PREFERENCE: [us]
`;
    await writeFile(config, `DB_URI: sqlite:///${join(work, 'q.db')}\n${storage}DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [us, eu]\n`);
    noDefaults = join(work, 'no-defaults.yaml');
    await writeFile(noDefaults, `DB_URI: sqlite:///${join(work, 'q.db')}\n${storage.replace('FEATURE_STORAGE_REPLICATION: true\n', '')}`);
    // Whether a backfill has anything to fill depends on the namespaces' own locations, so it reads the
    // database: migrated first, so that the migration's progress lines are not part of the answer.
    const migrated = await runQuayside(work, 'db', 'migrate', '--config', config);
    assert.equal(migrated.code, 0, migrated.stderr);
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('each mistake is one line and a non-zero exit', async () => {
    const cases: [string[], number, RegExp][] = [
      [['storage', 'backfill', '--config', config, '--location', 'ap'], 2, /^quayside storage backfill: --location "ap" is not in DISTRIBUTED_STORAGE_CONFIG \(us, eu\)$/],
      [['storage', 'backfill', '--config', noDefaults], 2, /DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS is empty and no namespace lists a storage location; name the location\(s\) to fill with --location$/],
      [['storage', 'verify', '--config', config, '--location', 'nowhere'], 2, /^quayside storage verify: --location "nowhere" is not in DISTRIBUTED_STORAGE_CONFIG/],
      [['storage', 'backfill', '--repair', '--config', config], 2, /^quayside storage backfill: --repair is an option of storage verify$/],
      [['storage', 'verify', 'everything', '--config', config], 2, /^quayside storage verify: unexpected argument "everything"$/],
      [['storage', 'verify', '--repiar', '--config', config], 2, /^quayside storage: Unknown option '--repiar'/],
      [['storage', 'frobnicate'], 2, /^quayside storage: unknown action "frobnicate" \(validate, backfill, verify, locations, add-location or remove-location\)$/],
      [['storage', 'verify', '--config', join(work, 'absent.yaml')], 'non-zero' as unknown as number, /absent\.yaml/],
    ];
    for (const [args, code, pattern] of cases) {
      const result = await runQuayside(work, ...args);
      assertOneLineFailure(result, code === ('non-zero' as unknown as number) ? 'non-zero' : code, pattern);
    }
  });
});
