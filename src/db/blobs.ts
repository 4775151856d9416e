import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import type { Schema } from './schema.js';
import type { BlobIndex, BlobRecord, HeldBlobRecord } from './metadata.js';
import { presentDigests } from './lookup-batches.js';
import { preparedQuery } from './prepared-query.js';
import { retryOnDeadlock, toDate, toNumber } from './query-helpers.js';

/** BlobIndex on the blob and repository_blob tables. */
export class KyselyBlobIndex implements BlobIndex {
  /** The link lookup of every blob GET and HEAD: compiled once. */
  private readonly linked;

  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {
    this.linked = preparedQuery(
      database.db,
      (repositoryId: number, digest: string) =>
        database.db
          .selectFrom('repository_blob')
          .innerJoin('blob', 'blob.digest', 'repository_blob.digest')
          .select(['blob.digest', 'blob.size', 'blob.created_at', 'repository_blob.created_at as linked_at', 'repository_blob.touched_at'])
          .where('repository_blob.repository_id', '=', repositoryId)
          .where('repository_blob.digest', '=', digest),
      [-0x7fff_fffe, '\0digest'],
    );
  }

  async linkedBytes(repositoryIds: readonly number[]): Promise<Map<number, number>> {
    const sizes = new Map<number, number>();
    if (repositoryIds.length === 0) return sizes;
    // One grouped sum over the link table's primary key (repository_id, digest): a page of repositories at once.
    const rows = await this.database.db
      .selectFrom('repository_blob')
      .innerJoin('blob', 'blob.digest', 'repository_blob.digest')
      .select((eb) => ['repository_blob.repository_id', eb.fn.sum<number | string>('blob.size').as('bytes')])
      .where('repository_blob.repository_id', 'in', [...repositoryIds])
      .groupBy('repository_blob.repository_id')
      .execute();
    for (const row of rows) sizes.set(row.repository_id, toNumber(row.bytes));
    return sizes;
  }

  async getBlob(digest: string): Promise<BlobRecord | undefined> {
    const row = await this.database.db
      .selectFrom('blob')
      .select(['digest', 'size', 'created_at'])
      .where('digest', '=', digest)
      .executeTakeFirst();
    return row && { digest: row.digest, size: toNumber(row.size), createdAt: toDate(row.created_at) };
  }

  /** Idempotent; a second record only refreshes touched_at, which shields the blob from GC for the grace period. */
  async recordBlob(digest: string, size: number): Promise<void> {
    const now = this.now();
    const insert = this.database.db.insertInto('blob').values({ digest, size, created_at: now, touched_at: now });
    await retryOnDeadlock(() =>
      (this.database.dialect === 'mysql'
        ? insert.onDuplicateKeyUpdate({ touched_at: now })
        : insert.onConflict((oc) => oc.column('digest').doUpdateSet({ touched_at: now }))
      ).execute(),
    );
  }

  /** Idempotent; linking again refreshes touched_at like recordBlob. */
  async linkBlob(repositoryId: number, digest: string): Promise<void> {
    const now = this.now();
    const insert = this.database.db
      .insertInto('repository_blob')
      .values({ repository_id: repositoryId, digest, created_at: now, touched_at: now });
    await retryOnDeadlock(() =>
      (this.database.dialect === 'mysql'
        ? insert.onDuplicateKeyUpdate({ touched_at: now })
        : insert.onConflict((oc) => oc.columns(['repository_id', 'digest']).doUpdateSet({ touched_at: now }))
      ).execute(),
    );
  }

  async getLinkedBlob(repositoryId: number, digest: string): Promise<BlobRecord | undefined> {
    const [row] = await this.linked(repositoryId, digest);
    return row && { digest: row.digest, size: toNumber(row.size), createdAt: toDate(row.created_at) };
  }

  async holdLinkedBlob(repositoryId: number, digest: string, graceMs: number): Promise<HeldBlobRecord | undefined> {
    const [row] = await this.linked(repositoryId, digest);
    if (row === undefined) return undefined;
    const blob = { digest: row.digest, size: toNumber(row.size), createdAt: toDate(row.created_at) };
    const now = this.now();
    const touchedAt = toNumber(row.touched_at ?? row.linked_at);
    if (touchedAt >= now - graceMs / 2) return { ...blob, touchedAt };
    // GC deletes a link only after re-reading it with a lock and finding it older than the grace period: this
    // update either commits first (GC then sees it fresh and keeps it) or waits for GC's commit and finds no
    // row (the link is gone: the client must upload the blob, so it is told the blob is unknown).
    const result = await retryOnDeadlock(() =>
      this.database.db
        .updateTable('repository_blob')
        .set({ touched_at: now })
        .where('repository_id', '=', repositoryId)
        .where('digest', '=', digest)
        .executeTakeFirst(),
    );
    return result.numUpdatedRows > 0n ? { ...blob, touchedAt: now } : undefined;
  }

  async linkedDigests(repositoryId: number, digests: readonly string[]): Promise<Set<string>> {
    return presentDigests(digests, async (batch) => {
      const rows = await this.database.db
        .selectFrom('repository_blob')
        .innerJoin('blob', 'blob.digest', 'repository_blob.digest')
        .select('repository_blob.digest')
        .where('repository_blob.repository_id', '=', repositoryId)
        .where('repository_blob.digest', 'in', batch)
        .execute();
      return rows.map((row) => row.digest);
    });
  }

  async unlinkBlob(repositoryId: number, digest: string): Promise<boolean> {
    const result = await this.database.db
      .deleteFrom('repository_blob')
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async listUnreferencedBlobs(limit: number): Promise<string[]> {
    const rows = await unreferencedBlobs(this.database.db).select('blob.digest').limit(limit).execute();
    return rows.map((r) => r.digest);
  }

  async forgetBlob(digest: string): Promise<void> {
    await this.database.db.deleteFrom('blob').where('digest', '=', digest).execute();
  }
}

/** Blobs no repository links and no manifest references, oldest first (listUnreferencedBlobs, and GC's sweep). */
export function unreferencedBlobs(db: Kysely<Schema>) {
  return db
    .selectFrom('blob')
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('repository_blob as l').select('l.digest').whereRef('l.digest', '=', 'blob.digest'))))
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('manifest_reference as r').select('r.digest').whereRef('r.digest', '=', 'blob.digest'))))
    .orderBy('blob.created_at')
    .orderBy('blob.digest');
}
