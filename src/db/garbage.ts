import { sql, type Kysely } from 'kysely';
import { unreferencedBlobs } from './blobs.js';
import type { Database } from './database.js';
import type { BlobRecord, GarbageIndex, GarbagePolicy, RepositoryGarbage } from './metadata.js';
import { LOOKUP_BATCH_SIZE } from './lookup-batches.js';
import { ignoreDuplicate, inRepositoryTransaction, toDate, toNumber } from './query-helpers.js';
import type { Schema } from './schema.js';
import { inWriteTransaction } from './write-transaction.js';

/** The slices of `items`, LOOKUP_BATCH_SIZE at a time (bind-parameter limits). */
function batches<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += LOOKUP_BATCH_SIZE) out.push(items.slice(start, start + LOOKUP_BATCH_SIZE));
  return out;
}

/** When a blob or link was last written: touched_at, or created_at on rows older than 0005_gc_touch. */
const touched = (table: 'blob' | 'repository_blob') => sql<number>`coalesce(${sql.ref(`${table}.touched_at`)}, ${sql.ref(`${table}.created_at`)})`;

interface Marked extends RepositoryGarbage {
  manifestIds: number[];
}

/**
 * Mark: everything of the repository reachable from its roots, on one connection (`db` is the transaction when
 * collecting). Roots are current tags, tag lifetimes that ended inside the time machine window, and manifests
 * younger than the grace period (pushed by digest, their index or tag still to come). From a reachable
 * manifest, its children (index entries) and its referrers (manifests whose subject it is) are reachable.
 */
async function mark(db: Kysely<Schema>, repositoryId: number, policy: GarbagePolicy): Promise<Marked> {
  const windowStart = policy.now - policy.timeMachineMs;
  const graceStart = policy.now - policy.graceMs;
  const manifests = await db
    .selectFrom('manifest')
    .select(['id', 'digest', 'subject_digest', 'created_at'])
    .where('repository_id', '=', repositoryId)
    .execute();
  const children = await db
    .selectFrom('manifest_reference as r')
    .innerJoin('manifest as m', 'm.id', 'r.manifest_id')
    .select(['m.digest as parent', 'r.digest as child'])
    .where('m.repository_id', '=', repositoryId)
    .where('r.kind', '=', 'manifest')
    .execute();
  const tags = await db
    .selectFrom('tag')
    .select(['manifest_digest', 'lifetime_end'])
    .where('repository_id', '=', repositoryId)
    .execute();

  const edges = new Map<string, string[]>();
  const addEdge = (from: string, to: string): void => {
    const list = edges.get(from);
    if (list) list.push(to);
    else edges.set(from, [to]);
  };
  for (const c of children) addEdge(c.parent, c.child);
  for (const m of manifests) if (m.subject_digest !== null) addEdge(m.subject_digest, m.digest);

  const reachable = new Set<string>();
  const pending: string[] = [];
  const reach = (digest: string): void => {
    if (reachable.has(digest)) return;
    reachable.add(digest);
    pending.push(digest);
  };
  let expiredTagLifetimes = 0;
  for (const t of tags) {
    if (t.lifetime_end === null || toNumber(t.lifetime_end) >= windowStart) reach(t.manifest_digest);
    else expiredTagLifetimes += 1;
  }
  for (const m of manifests) if (toNumber(m.created_at) >= graceStart) reach(m.digest);
  while (pending.length > 0) for (const next of edges.get(pending.pop()!) ?? []) reach(next);

  const garbage = manifests.filter((m) => !reachable.has(m.digest));
  const kept = manifests.filter((m) => reachable.has(m.digest)).map((m) => m.id);
  const neededBlobs = new Set<string>();
  for (const ids of batches(kept)) {
    const rows = await db
      .selectFrom('manifest_reference')
      .select('digest')
      .where('manifest_id', 'in', ids)
      .where('kind', '=', 'blob')
      .execute();
    for (const row of rows) neededBlobs.add(row.digest);
  }
  const links = await db
    .selectFrom('repository_blob')
    .select('digest')
    .where('repository_id', '=', repositoryId)
    .where(touched('repository_blob'), '<', graceStart)
    .execute();
  return {
    manifests: garbage.map((m) => m.digest).sort(),
    manifestIds: garbage.map((m) => m.id),
    links: links.map((l) => l.digest).filter((d) => !neededBlobs.has(d)).sort(),
    expiredTagLifetimes,
  };
}

/** GarbageIndex on the registry tables plus gc_lease. */
export class KyselyGarbageIndex implements GarbageIndex {
  constructor(private readonly database: Database) {}

  async listRepositoryIds(afterId: number, limit: number): Promise<number[]> {
    const rows = await this.database.db
      .selectFrom('repository')
      .select('id')
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  async findRepositoryGarbage(repositoryId: number, policy: GarbagePolicy): Promise<RepositoryGarbage> {
    const { manifestIds: _ids, ...garbage } = await mark(this.database.db, repositoryId, policy);
    return garbage;
  }

  async collectRepository(repositoryId: number, policy: GarbagePolicy): Promise<RepositoryGarbage> {
    return inRepositoryTransaction(this.database, repositoryId, async (trx) => {
      const marked = await mark(trx, repositoryId, policy);
      for (const ids of batches(marked.manifestIds)) {
        await trx.deleteFrom('manifest_reference').where('manifest_id', 'in', ids).execute();
        await trx.deleteFrom('manifest').where('id', 'in', ids).execute();
      }
      await trx
        .deleteFrom('tag')
        .where('repository_id', '=', repositoryId)
        .where('lifetime_end', 'is not', null)
        .where('lifetime_end', '<', policy.now - policy.timeMachineMs)
        .execute();
      // Uploads link blobs without the repository lock: a locking read sees a link touched after this
      // transaction's snapshot (MySQL reads a snapshot otherwise), and holds it until the delete.
      const links: string[] = [];
      for (const digests of batches(marked.links)) {
        let query = trx
          .selectFrom('repository_blob')
          .select('digest')
          .where('repository_id', '=', repositoryId)
          .where('digest', 'in', digests)
          .where(touched('repository_blob'), '<', policy.now - policy.graceMs);
        if (this.database.dialect !== 'sqlite') query = query.forUpdate();
        const still = (await query.execute()).map((r) => r.digest);
        if (still.length === 0) continue;
        await trx.deleteFrom('repository_blob').where('repository_id', '=', repositoryId).where('digest', 'in', still).execute();
        links.push(...still);
      }
      return { manifests: marked.manifests, links: links.sort(), expiredTagLifetimes: marked.expiredTagLifetimes };
    });
  }

  async listGarbageBlobs(policy: GarbagePolicy, limit: number): Promise<BlobRecord[]> {
    const rows = await unreferencedBlobs(this.database.db)
      .select(['blob.digest', 'blob.size', 'blob.created_at'])
      .where(touched('blob'), '<', policy.now - policy.graceMs)
      .limit(limit)
      .execute();
    return rows.map((r) => ({ digest: r.digest, size: toNumber(r.size), createdAt: toDate(r.created_at) }));
  }

  async collectBlob(digest: string, policy: GarbagePolicy, deleteStored: () => Promise<void>): Promise<boolean> {
    const locking = this.database.dialect !== 'sqlite';
    return inWriteTransaction(this.database, async (trx) => {
      // The row lock conflicts with the key-share lock a concurrent link insert takes on its blob (foreign
      // key), and recordBlob's touch updates this row: either they committed first and we see them, or they
      // wait for this transaction and find the row gone (see docs/gc.md).
      let blob = trx.selectFrom('blob').select('digest').where('digest', '=', digest).where(touched('blob'), '<', policy.now - policy.graceMs);
      if (locking) blob = blob.forUpdate();
      if ((await blob.executeTakeFirst()) === undefined) return false;
      let link = trx.selectFrom('repository_blob').select('digest').where('digest', '=', digest).limit(1);
      if (locking) link = link.forUpdate();
      let reference = trx.selectFrom('manifest_reference').select('digest').where('digest', '=', digest).limit(1);
      if (locking) reference = reference.forUpdate();
      if ((await link.executeTakeFirst()) !== undefined || (await reference.executeTakeFirst()) !== undefined) return false;
      await deleteStored();
      // deleteStored removed the blob from every location (src/storage/distributed.ts): no placement, and no
      // copy left to make, survives the blob's row.
      await trx.deleteFrom('blob_placement').where('digest', '=', digest).execute();
      await trx.deleteFrom('replication_job').where('digest', '=', digest).execute();
      await trx.deleteFrom('blob').where('digest', '=', digest).execute();
      return true;
    });
  }

  async acquireLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    await ignoreDuplicate(this.database, this.database.db.insertInto('gc_lease').values({ name, holder, expires_at: 0 }), 'name').execute();
    const result = await this.database.db
      .updateTable('gc_lease')
      .set({ holder, expires_at: now + ttlMs })
      .where('name', '=', name)
      .where((eb) => eb.or([eb('holder', '=', holder), eb('expires_at', '<', now)]))
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.database.db.updateTable('gc_lease').set({ expires_at: 0 }).where('name', '=', name).where('holder', '=', holder).execute();
  }
}
