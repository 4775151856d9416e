import type { Database } from './database.js';
import type { Kysely } from 'kysely';
import { MissingReferenceError, type Page, type TagIndex, type TagRecord } from './metadata.js';
import type { Schema } from './schema.js';
import { inRepositoryTransaction, toDate } from './query-helpers.js';

const COLUMNS = ['id', 'repository_id', 'name', 'manifest_digest', 'lifetime_start', 'lifetime_end'] as const;

type TagRow = {
  id: number;
  repository_id: number;
  name: string;
  manifest_digest: string;
  lifetime_start: number | string;
  lifetime_end: number | string | null;
};

function toRecord(row: TagRow): TagRecord {
  return {
    id: row.id,
    repositoryId: row.repository_id,
    name: row.name,
    manifestDigest: row.manifest_digest,
    lifetimeStart: toDate(row.lifetime_start),
    lifetimeEnd: row.lifetime_end === null ? null : toDate(row.lifetime_end),
  };
}

/**
 * Points a tag at a manifest inside the caller's repository transaction (inRepositoryTransaction, which garbage
 * collection takes too): the manifest must be present at that moment, so a tag never points at a collected one.
 */
export async function pointTagAt(trx: Kysely<Schema>, now: number, repositoryId: number, name: string, manifestDigest: string): Promise<void> {
  const target = await trx
    .selectFrom('manifest')
    .select('id')
    .where('repository_id', '=', repositoryId)
    .where('digest', '=', manifestDigest)
    .executeTakeFirst();
  if (target === undefined) throw new MissingReferenceError(manifestDigest);
  const current = await trx
    .selectFrom('tag')
    .select(['id', 'manifest_digest'])
    .where('repository_id', '=', repositoryId)
    .where('name', '=', name)
    .where('lifetime_end', 'is', null)
    .execute();
  if (current.length === 1 && current[0]!.manifest_digest === manifestDigest) return;
  if (current.length > 0) {
    await trx.updateTable('tag').set({ lifetime_end: now }).where('id', 'in', current.map((c) => c.id)).execute();
  }
  await trx
    .insertInto('tag')
    .values({ repository_id: repositoryId, name, manifest_digest: manifestDigest, lifetime_start: now, lifetime_end: null })
    .execute();
}

/**
 * TagIndex on the tag table. A tag row is one lifetime of a name; the current one has lifetime_end null.
 * Moves and deletes run in inRepositoryTransaction, which serialises them per repository.
 */
export class KyselyTagIndex implements TagIndex {
  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {}

  async getTag(repositoryId: number, name: string): Promise<TagRecord | undefined> {
    const row = await this.database.db
      .selectFrom('tag')
      .select(COLUMNS)
      .where('repository_id', '=', repositoryId)
      .where('name', '=', name)
      .where('lifetime_end', 'is', null)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async setTag(repositoryId: number, name: string, manifestDigest: string): Promise<void> {
    await inRepositoryTransaction(this.database, repositoryId, (trx) => pointTagAt(trx, this.now(), repositoryId, name, manifestDigest));
  }

  async deleteTag(repositoryId: number, name: string): Promise<boolean> {
    return inRepositoryTransaction(this.database, repositoryId, async (trx) => {
      const result = await trx
        .updateTable('tag')
        .set({ lifetime_end: this.now() })
        .where('repository_id', '=', repositoryId)
        .where('name', '=', name)
        .where('lifetime_end', 'is', null)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  async listTags(repositoryId: number, page: Page): Promise<string[]> {
    let query = this.database.db
      .selectFrom('tag')
      .select('name')
      .where('repository_id', '=', repositoryId)
      .where('lifetime_end', 'is', null)
      .orderBy('name')
      .limit(page.limit);
    if (page.last !== undefined) query = query.where('name', '>', page.last);
    return (await query.execute()).map((r) => r.name);
  }

  async tagHistory(repositoryId: number, name?: string): Promise<TagRecord[]> {
    let query = this.database.db
      .selectFrom('tag')
      .select(COLUMNS)
      .where('repository_id', '=', repositoryId)
      .orderBy('lifetime_start', 'desc')
      .orderBy('id', 'desc');
    if (name !== undefined) query = query.where('name', '=', name);
    return (await query.execute()).map(toRecord);
  }
}
