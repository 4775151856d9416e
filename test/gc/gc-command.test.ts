// `quayside gc` through the built binary on an embedded registry (SQLite + local storage) whose content was
// written two hours "ago" (an injected clock), so the one-hour push grace period has passed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/db/database.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { assertOneLineFailure, runQuayside } from '../helpers/cli.js';

let work: string;
let config: string;
let storage: LocalBlobStore;
const content: Record<string, string> = {};

async function storeBlob(text: string): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(text).digest('hex')}`;
  const id = `u${Object.keys(content).length}x${Date.now()}`;
  await storage.startUpload(id);
  await storage.appendUpload(id, 0, Readable.from([Buffer.from(text)]));
  await storage.commitUpload(id, digest);
  content[digest] = text;
  return digest;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'quayside-gc-cli-'));
  config = join(work, 'config.yaml');
  await writeFile(config, `DB_URI: sqlite:///${join(work, 'quayside.db')}\nDISTRIBUTED_STORAGE_CONFIG:\n  local: [LocalStorage, {storage_path: ${join(work, 'storage')}}]\nDISTRIBUTED_STORAGE_PREFERENCE: [local]\nDEFAULT_TAG_EXPIRATION: 1d\n`);
  storage = new LocalBlobStore(join(work, 'storage'));
  const database = await openDatabase({ uri: `sqlite:///${join(work, 'quayside.db')}` });
  await migrateToLatest(database);
  const metadata = createMetadata(database, { now: () => Date.now() - 2 * 3_600_000 });
  const repo = (await metadata.repositories.ensureRepository('acme/app')).id;
  const [shared, own] = [await storeBlob('shared layer'), await storeBlob('layer only the untagged image has')];
  for (const [digest, text] of [[shared, 'shared layer'], [own, 'layer only the untagged image has']] as const) {
    await metadata.blobs.recordBlob(digest, text.length);
    await metadata.blobs.linkBlob(repo, digest);
  }
  const image = (n: number, layers: string[]) => ({
    digest: `sha256:${n.toString(16).padStart(64, '0')}`,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: null,
    subjectDigest: null,
    annotations: null,
    bytes: Buffer.from(`image ${n}`),
    references: layers.map((digest) => ({ digest, kind: 'blob' as const })),
  });
  await metadata.manifests.putManifest(repo, image(1, [shared]), ['latest']);
  await metadata.manifests.putManifest(repo, image(2, [shared, own]));
  await database.close();
});
after(() => rm(work, { recursive: true, force: true }));

describe('quayside gc', () => {
  it('--dry-run lists the untagged manifest, its own layer\'s link, and removes nothing', async () => {
    const result = await runQuayside(work, 'gc', '--dry-run', '--config', config);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^manifest sha256:0{63}2 repository \\d+$`, 'm'));
    assert.match(result.stdout, /^link sha256:[0-9a-f]{64} repository \d+$/m);
    assert.match(result.stdout, /^would delete 1 manifests, 1 blob links, 0 expired tag lifetimes, 0 blobs \(0 bytes\) in 1 repositories/m);
    assert.match(result.stderr, /^repositories: 1\/1$/m);
    for (const digest of Object.keys(content)) assert.ok(await storage.stat(digest), `${digest} removed by a dry run`);
  });

  it('deletes the untagged manifest, then the blob only it used, from the database and storage', async () => {
    const result = await runQuayside(work, 'gc', '--config', config, '--repository', 'acme/app');
    assert.equal(result.code, 0, result.stderr);
    const own = Object.entries(content).find(([, text]) => text.startsWith('layer only'))![0];
    const shared = Object.entries(content).find(([, text]) => text === 'shared layer')![0];
    assert.match(result.stdout, /^deleted 1 manifests, 1 blob links, 0 expired tag lifetimes, 1 blobs \(33 bytes\) in 1 repositories/m);
    assert.equal(await storage.stat(own), undefined);
    assert.equal((await storage.stat(shared))?.size, 'shared layer'.length);
    const again = await runQuayside(work, 'gc', '--config', config);
    assert.match(again.stdout, /^deleted 0 manifests, 0 blob links, 0 expired tag lifetimes, 0 blobs \(0 bytes\)/m);
  });

  it('refuses a bad or unknown --repository in one line', async () => {
    assertOneLineFailure(await runQuayside(work, 'gc', '--config', config, '--repository', 'Not A Name'), 2, /^quayside gc: --repository "Not A Name": /);
    assertOneLineFailure(await runQuayside(work, 'gc', '--config', config, '--repository', 'acme/none'), 1, /^quayside gc: no repository named "acme\/none"$/);
  });

  it('refuses a time machine window that is not a Quay duration in one line', async () => {
    const bad = join(work, 'bad.yaml');
    await writeFile(bad, `DB_URI: sqlite:///${join(work, 'quayside.db')}\nDEFAULT_TAG_EXPIRATION: forever\n`);
    assertOneLineFailure(await runQuayside(work, 'gc', '--config', bad), 'non-zero', /DEFAULT_TAG_EXPIRATION/);
  });
});
