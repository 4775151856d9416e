import type { Database } from './database.js';
import { LOOKUP_BATCH_SIZE } from './lookup-batches.js';
import { ignoreDuplicate, retryOnDeadlock, toNumber } from './query-helpers.js';
import { missingFrom, type RequiredBlobs } from './required-blobs.js';

/** A (blob, location) pair: a blob that a location holds, or should hold. */
export interface BlobLocation {
  digest: string;
  location: string;
}

/** Which storage locations hold which blob (table blob_placement, see docs/geo-replication.md). */
export interface PlacementIndex {
  /** Idempotent: records that `location` holds the blob. */
  recordPlacement(digest: string, location: string): Promise<void>;
  /** Idempotent: forgets that `location` holds the blob. */
  forgetPlacement(digest: string, location: string): Promise<void>;
  /** The locations recorded as holding the blob, by name (none for a blob pushed before geo-replication). */
  locationsOf(digest: string): Promise<string[]>;
  /** Of `digests` x `locations`, the pairs with no placement (what a pushed manifest must queue). */
  missingPlacements(digests: readonly string[], locations: readonly string[]): Promise<BlobLocation[]>;
  /**
   * Recorded blobs that `location` does not hold, in digest order, strictly after `after` (for a backfill):
   * every such blob, or (`required: 'listing-namespaces'`) those of the namespaces that list the location.
   */
  blobsMissingFrom(location: string, page: { after?: string; limit: number; required?: RequiredBlobs }): Promise<{ digest: string; size: number }[]>;
}

/** PlacementIndex on blob_placement. */
export class KyselyPlacementIndex implements PlacementIndex {
  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {}

  async recordPlacement(digest: string, location: string): Promise<void> {
    const insert = this.database.db.insertInto('blob_placement').values({ digest, location, created_at: this.now() });
    await retryOnDeadlock(() => ignoreDuplicate(this.database, insert, 'digest').execute());
  }

  async forgetPlacement(digest: string, location: string): Promise<void> {
    await this.database.db.deleteFrom('blob_placement').where('digest', '=', digest).where('location', '=', location).execute();
  }

  async locationsOf(digest: string): Promise<string[]> {
    const rows = await this.database.db.selectFrom('blob_placement').select('location').where('digest', '=', digest).orderBy('location').execute();
    return rows.map((row) => row.location);
  }

  async missingPlacements(digests: readonly string[], locations: readonly string[]): Promise<BlobLocation[]> {
    const unique = [...new Set(digests)];
    if (unique.length === 0 || locations.length === 0) return [];
    const held = new Set<string>();
    for (let start = 0; start < unique.length; start += LOOKUP_BATCH_SIZE) {
      const rows = await this.database.db
        .selectFrom('blob_placement')
        .select(['digest', 'location'])
        .where('digest', 'in', unique.slice(start, start + LOOKUP_BATCH_SIZE))
        .where('location', 'in', [...locations])
        .execute();
      for (const row of rows) held.add(`${row.location}\n${row.digest}`);
    }
    const missing: BlobLocation[] = [];
    for (const digest of unique) {
      for (const location of locations) if (!held.has(`${location}\n${digest}`)) missing.push({ digest, location });
    }
    return missing;
  }

  async blobsMissingFrom(location: string, page: { after?: string; limit: number; required?: RequiredBlobs }): Promise<{ digest: string; size: number }[]> {
    let query = this.database.db
      .selectFrom('blob')
      .select(['blob.digest', 'blob.size'])
      .where(missingFrom(location, page.required ?? 'every-blob'))
      .orderBy('blob.digest')
      .limit(page.limit);
    if (page.after !== undefined) query = query.where('blob.digest', '>', page.after);
    const rows = await query.execute();
    return rows.map((row) => ({ digest: row.digest, size: toNumber(row.size) }));
  }
}
