import { sql, type Kysely } from 'kysely';
import type { Database } from './database.js';
import { toNumber } from './query-helpers.js';
import type { Schema } from './schema.js';
import { inWriteTransaction } from './write-transaction.js';

/** Pulls of one tag counted since the last flush. */
export interface TagPulls {
  repositoryId: number;
  tag: string;
  /** The manifest the tag named at its latest counted pull. */
  manifestDigest: string;
  count: number;
  /** Latest pull, ms since the epoch. */
  lastAt: number;
}

/** Pulls of one manifest (by tag or by digest) counted since the last flush. */
export interface ManifestPulls {
  manifestId: number;
  count: number;
  lastAt: number;
}

export interface PullBatch {
  tags: TagPulls[];
  manifests: ManifestPulls[];
}

export interface TagPullStatistics {
  pullCount: number;
  lastPulledAt: Date;
  currentManifestDigest: string;
}

export interface ManifestPullStatistics {
  pullCount: number;
  lastPulledAt: Date;
}

/** Where pull statistics are kept: added to in batches, read by the API. */
export interface PullStatisticsStore {
  /** Adds a batch in one transaction; pulls of manifests deleted since are dropped, never an error. */
  add(batch: PullBatch): Promise<void>;
  forTag(repositoryId: number, tag: string): Promise<TagPullStatistics | undefined>;
  forManifest(manifestId: number): Promise<ManifestPullStatistics | undefined>;
}

/** Rows per INSERT: within every dialect's bound-parameter limit. */
const ROWS_PER_STATEMENT = 500;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += ROWS_PER_STATEMENT) out.push(items.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

/** PullStatisticsStore on tag_pull_statistics and manifest_pull_statistics (migration 0010). */
export class KyselyPullStatistics implements PullStatisticsStore {
  constructor(private readonly database: Database) {}

  async add(batch: PullBatch): Promise<void> {
    if (batch.tags.length === 0 && batch.manifests.length === 0) return;
    await inWriteTransaction(this.database, async (trx) => {
      // Counts add up; the latest pull wins the date and (for a tag) the manifest it named. On MySQL the
      // assignments run left to right with the new values, so the digest is decided before the date moves.
      const mysql = this.database.dialect === 'mysql';
      const greatest = this.database.dialect === 'sqlite' ? 'max' : 'greatest';
      // What was deleted between its pull and this flush (a repository, a garbage-collected manifest) has no
      // row to count against; the rest is locked against deletion until the rows below reference it.
      const repositories = await this.lockExisting(trx, 'repository', batch.tags.map((t) => t.repositoryId));
      const manifests = await this.lockExisting(trx, 'manifest', batch.manifests.map((m) => m.manifestId));
      for (const rows of chunks(batch.tags.filter((t) => repositories.has(t.repositoryId)))) {
        const insert = trx.insertInto('tag_pull_statistics').values(
          rows.map((r) => ({
            repository_id: r.repositoryId,
            tag_name: r.tag,
            tag_pull_count: r.count,
            last_tag_pull_date: r.lastAt,
            current_manifest_digest: r.manifestDigest,
          })),
        );
        await (mysql
          ? insert.onDuplicateKeyUpdate({
              tag_pull_count: sql`tag_pull_count + values(tag_pull_count)`,
              current_manifest_digest: sql`if(values(last_tag_pull_date) >= last_tag_pull_date, values(current_manifest_digest), current_manifest_digest)`,
              last_tag_pull_date: sql`greatest(last_tag_pull_date, values(last_tag_pull_date))`,
            })
          : insert.onConflict((oc) =>
              oc.columns(['repository_id', 'tag_name']).doUpdateSet({
                tag_pull_count: sql`tag_pull_statistics.tag_pull_count + excluded.tag_pull_count`,
                current_manifest_digest: sql`case when excluded.last_tag_pull_date >= tag_pull_statistics.last_tag_pull_date then excluded.current_manifest_digest else tag_pull_statistics.current_manifest_digest end`,
                last_tag_pull_date: sql`${sql.raw(greatest)}(tag_pull_statistics.last_tag_pull_date, excluded.last_tag_pull_date)`,
              }),
            )
        ).execute();
      }
      for (const rows of chunks(batch.manifests.filter((m) => manifests.has(m.manifestId)))) {
        const insert = trx.insertInto('manifest_pull_statistics').values(
          rows.map((r) => ({ manifest_id: r.manifestId, manifest_pull_count: r.count, last_manifest_pull_date: r.lastAt })),
        );
        await (mysql
          ? insert.onDuplicateKeyUpdate({
              manifest_pull_count: sql`manifest_pull_count + values(manifest_pull_count)`,
              last_manifest_pull_date: sql`greatest(last_manifest_pull_date, values(last_manifest_pull_date))`,
            })
          : insert.onConflict((oc) =>
              oc.column('manifest_id').doUpdateSet({
                manifest_pull_count: sql`manifest_pull_statistics.manifest_pull_count + excluded.manifest_pull_count`,
                last_manifest_pull_date: sql`${sql.raw(greatest)}(manifest_pull_statistics.last_manifest_pull_date, excluded.last_manifest_pull_date)`,
              }),
            )
        ).execute();
      }
    });
  }

  /** The ids among `ids` whose rows exist, locked so that nothing deletes them before this transaction ends. */
  private async lockExisting(trx: Kysely<Schema>, table: 'repository' | 'manifest', ids: number[]): Promise<Set<number>> {
    const existing = new Set<number>();
    for (const part of chunks([...new Set(ids)].sort((a, b) => a - b))) {
      const select = trx.selectFrom(table).select('id').where('id', 'in', part);
      // PostgreSQL's KEY SHARE blocks only deletes (pushes keep their NO KEY UPDATE repository lock); MariaDB has
      // no such mode; SQLite's immediate transaction is the only writer already.
      const dialect = this.database.dialect;
      const rows = await (dialect === 'postgres' ? select.forKeyShare() : dialect === 'mysql' ? select.forUpdate() : select).execute();
      for (const row of rows) existing.add(row.id);
    }
    return existing;
  }

  async forTag(repositoryId: number, tag: string): Promise<TagPullStatistics | undefined> {
    const row = await this.database.db
      .selectFrom('tag_pull_statistics')
      .select(['tag_pull_count', 'last_tag_pull_date', 'current_manifest_digest'])
      .where('repository_id', '=', repositoryId)
      .where('tag_name', '=', tag)
      .executeTakeFirst();
    return row && { pullCount: toNumber(row.tag_pull_count), lastPulledAt: new Date(toNumber(row.last_tag_pull_date)), currentManifestDigest: row.current_manifest_digest };
  }

  async forManifest(manifestId: number): Promise<ManifestPullStatistics | undefined> {
    const row = await this.database.db
      .selectFrom('manifest_pull_statistics')
      .select(['manifest_pull_count', 'last_manifest_pull_date'])
      .where('manifest_id', '=', manifestId)
      .executeTakeFirst();
    return row && { pullCount: toNumber(row.manifest_pull_count), lastPulledAt: new Date(toNumber(row.last_manifest_pull_date)) };
  }
}
