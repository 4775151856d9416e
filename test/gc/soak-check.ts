// The soak test's final checks: storage against the database (no blob that nothing references, no reference to a
// blob that is gone), the database against the model (the tags and manifests that should be there and no other),
// and each expected tag pulled with skopeo and compared byte for byte.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from '../../src/db/database.js';
import { readLayoutImage, sha256 } from '../helpers/oci-images.js';
import { skopeo, type RegistryServer } from '../helpers/processes.js';
import type { SoakImage } from './soak-images.js';
import { SKOPEO_CREDS, type SoakModel } from './soak-workload.js';

/** Every blob digest a LocalStorage root holds (`sha256/<2 hex>/<hex>`). */
export async function storedDigests(root: string): Promise<Set<string>> {
  const digests = new Set<string>();
  const top = join(root, 'sha256');
  for (const prefix of await readdir(top)) {
    for (const name of await readdir(join(top, prefix))) digests.add(`sha256:${name}`);
  }
  return digests;
}

const sorted = (items: Iterable<string>): string[] => [...items].sort();

/**
 * Storage holds exactly the blobs the remaining manifests reference, each with its blob row and a link in the
 * manifest's repository; the remaining manifests and current tags are exactly the model's. Returns the numbers.
 */
export async function assertStorageMatchesDatabase(database: Database, storageRoot: string, model: SoakModel): Promise<{ blobs: number; manifests: number; tags: number }> {
  const db = database.db;
  // repository.name is the full name (namespace/name).
  const name = (r: { name: string }) => r.name;
  const tags = await db.selectFrom('tag').innerJoin('repository', 'repository.id', 'tag.repository_id')
    .select(['repository.name', 'tag.name as tag', 'tag.manifest_digest']).where('tag.lifetime_end', 'is', null).execute();
  assert.deepEqual(
    sorted(tags.map((t) => `${name(t)}:${t.tag} ${t.manifest_digest}`)),
    sorted([...model.expected.values()].map((e) => `${e.repository}:${e.tag} ${e.image.digest}`)),
    'the current tags are the ones the clients left',
  );
  const manifests = await db.selectFrom('manifest').innerJoin('repository', 'repository.id', 'manifest.repository_id')
    .select(['repository.name', 'manifest.digest']).execute();
  assert.deepEqual(
    sorted(new Set(manifests.map((m) => `${name(m)} ${m.digest}`))),
    sorted(new Set([...model.expected.values()].map((e) => `${e.repository} ${e.image.digest}`))),
    'only manifests a current tag holds remain once the window and the grace period have passed',
  );
  const references = await db.selectFrom('manifest_reference').innerJoin('manifest', 'manifest.id', 'manifest_reference.manifest_id')
    .select(['manifest.repository_id', 'manifest_reference.digest']).where('manifest_reference.kind', '=', 'blob').execute();
  const links = await db.selectFrom('repository_blob').select(['repository_id', 'digest']).execute();
  assert.deepEqual(
    sorted(new Set(links.map((l) => `${l.repository_id} ${l.digest}`))),
    sorted(new Set(references.map((r) => `${r.repository_id} ${r.digest}`))),
    'each repository links exactly the blobs its manifests reference',
  );
  const rows = new Set((await db.selectFrom('blob').select('digest').execute()).map((b) => b.digest));
  const referenced = new Set(references.map((r) => r.digest));
  const stored = await storedDigests(storageRoot);
  assert.deepEqual(sorted(rows), sorted(referenced), 'blob rows: exactly the referenced blobs');
  assert.deepEqual(sorted(stored), sorted(referenced), 'storage: exactly the referenced blobs, nothing unreferenced left, nothing referenced lost');
  return { blobs: stored.size, manifests: manifests.length, tags: tags.length };
}

/** Pulls `image` from `repository:tag` with skopeo into a fresh layout and compares the manifest and every blob byte for byte. */
export async function assertSkopeoPull(server: RegistryServer, repository: string, tag: string, image: SoakImage, work: string): Promise<void> {
  const out = await mkdtemp(join(work, 'pull-'));
  try {
    await skopeo(['copy', '--preserve-digests', '--src-tls-verify=false', '--src-creds', SKOPEO_CREDS, `docker://${server.hostPort}/${repository}:${tag}`, `oci:${out}:${tag}`]);
    const pulled = await readLayoutImage(out, tag);
    assert.ok(pulled.manifestBytes.equals(image.manifest), `${repository}:${tag}: the manifest came back changed`);
    for (const blob of image.blobs) {
      const bytes = await readFile(join(out, 'blobs', 'sha256', blob.digest.slice('sha256:'.length)));
      assert.equal(sha256(bytes), blob.digest, `${repository}:${tag}: blob ${blob.digest} came back with other bytes`);
      assert.ok(bytes.equals(blob.bytes), `${repository}:${tag}: blob ${blob.digest} differs`);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
