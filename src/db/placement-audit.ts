import type { Database } from './database.js';
import { toNumber } from './query-helpers.js';
import { listedFor, missingFrom, type RequiredBlobs } from './required-blobs.js';

/** One recorded placement with the size the blob must have there. */
export interface PlacementRow {
  digest: string;
  location: string;
  size: number;
}

/**
 * The read-only queries of `quayside storage backfill` and `quayside storage verify` over blob_placement
 * (the writes go through PlacementIndex and ReplicationQueue): counts for their progress bars, and every
 * placement in (digest, location) order, a page at a time, so that a run over millions of rows holds one page.
 */
export class PlacementAudit {
  constructor(private readonly database: Database) {}

  /** Blobs with no placement in `location` (what a backfill to it queues): all, or those it must hold for namespaces. */
  async countBlobsMissingFrom(location: string, required: RequiredBlobs = 'every-blob'): Promise<number> {
    const row = await this.database.db
      .selectFrom('blob')
      .select((eb) => eb.fn.countAll<number | string>().as('blobs'))
      .where(missingFrom(location, required))
      .executeTakeFirstOrThrow();
    return toNumber(row.blobs);
  }

  /** The blobs `location` must hold, placed there or not: every blob, or those of the namespaces listing it. */
  async countRequiredBlobs(location: string, required: RequiredBlobs): Promise<number> {
    if (required === 'every-blob') return this.countBlobs();
    const row = await this.database.db
      .selectFrom('blob')
      .select((eb) => eb.fn.countAll<number | string>().as('blobs'))
      .where(listedFor(location))
      .executeTakeFirstOrThrow();
    return toNumber(row.blobs);
  }

  /** Every blob the database records. */
  async countBlobs(): Promise<number> {
    const row = await this.database.db.selectFrom('blob').select((eb) => eb.fn.countAll<number | string>().as('blobs')).executeTakeFirstOrThrow();
    return toNumber(row.blobs);
  }

  async countPlacements(): Promise<number> {
    const row = await this.database.db.selectFrom('blob_placement').select((eb) => eb.fn.countAll<number | string>().as('rows')).executeTakeFirstOrThrow();
    return toNumber(row.rows);
  }

  /** Placements strictly after `after` in (digest, location) order, with their blob's size. */
  async listPlacements(page: { after?: { digest: string; location: string }; limit: number }): Promise<PlacementRow[]> {
    let query = this.database.db
      .selectFrom('blob_placement as p')
      .innerJoin('blob as b', 'b.digest', 'p.digest')
      .select(['p.digest as digest', 'p.location as location', 'b.size as size'])
      .orderBy('p.digest')
      .orderBy('p.location')
      .limit(page.limit);
    const after = page.after;
    if (after !== undefined) {
      query = query.where((eb) =>
        eb.or([eb('p.digest', '>', after.digest), eb.and([eb('p.digest', '=', after.digest), eb('p.location', '>', after.location)])]),
      );
    }
    const rows = await query.execute();
    return rows.map((row) => ({ digest: row.digest, location: row.location, size: toNumber(row.size) }));
  }
}
