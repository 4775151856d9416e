import type { Database } from './database.js';
import type { Kysely } from 'kysely';
import { MissingReferenceError, type ExpiryBounds, type Page, type RestoreOutcome, type TagIndex, type TagPage, type TagRecord } from './metadata.js';
import type { Schema } from './schema.js';
import { inRepositoryTransaction, toDate, toNumber } from './query-helpers.js';
import { currentAt, namespaceWindowMs } from './time-machine.js';

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

/** The current lifetimes of a tag name (at most one, unless a bug or a crash of old code left two). */
function currentRows(db: Kysely<Schema>, now: number, repositoryId: number, name: string) {
  return db
    .selectFrom('tag')
    .select(COLUMNS)
    .where('repository_id', '=', repositoryId)
    .where('name', '=', name)
    .where(currentAt(now));
}

/**
 * Points a tag at a manifest inside the caller's repository transaction (inRepositoryTransaction, which garbage
 * collection takes too): the manifest must be present at that moment, so a tag never points at a collected one.
 * A manifest labelled `quay.expires-after` gives the new lifetime its expiry, as Quay does on every retarget.
 */
export async function pointTagAt(trx: Kysely<Schema>, now: number, repositoryId: number, name: string, manifestDigest: string): Promise<void> {
  const target = await trx
    .selectFrom('manifest')
    .select(['id', 'expires_after_s'])
    .where('repository_id', '=', repositoryId)
    .where('digest', '=', manifestDigest)
    .executeTakeFirst();
  if (target === undefined) throw new MissingReferenceError(manifestDigest);
  const current = await currentRows(trx, now, repositoryId, name).execute();
  if (current.length === 1 && current[0]!.manifest_digest === manifestDigest) return;
  if (current.length > 0) {
    await trx.updateTable('tag').set({ lifetime_end: now }).where('id', 'in', current.map((c) => c.id)).execute();
  }
  const expiresAfterS = target.expires_after_s === null ? 0 : toNumber(target.expires_after_s);
  await trx
    .insertInto('tag')
    .values({
      repository_id: repositoryId,
      name,
      manifest_digest: manifestDigest,
      lifetime_start: now,
      lifetime_end: expiresAfterS > 0 ? now + expiresAfterS * 1000 : null,
    })
    .execute();
}

/**
 * TagIndex on the tag table. A tag row is one lifetime of a name; the current one has lifetime_end null or in
 * the future (its expiry). Moves, deletes, expiry changes and restores run in inRepositoryTransaction, which
 * serialises them per repository.
 */
export class KyselyTagIndex implements TagIndex {
  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {}

  async getTag(repositoryId: number, name: string): Promise<TagRecord | undefined> {
    const row = await currentRows(this.database.db, this.now(), repositoryId, name).executeTakeFirst();
    return row && toRecord(row);
  }

  async setTag(repositoryId: number, name: string, manifestDigest: string): Promise<void> {
    await inRepositoryTransaction(this.database, repositoryId, (trx) => pointTagAt(trx, this.now(), repositoryId, name, manifestDigest));
  }

  async deleteTag(repositoryId: number, name: string): Promise<boolean> {
    return inRepositoryTransaction(this.database, repositoryId, async (trx) => {
      const now = this.now();
      const result = await trx
        .updateTable('tag')
        .set({ lifetime_end: now })
        .where('repository_id', '=', repositoryId)
        .where('name', '=', name)
        .where(currentAt(now))
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  async listTags(repositoryId: number, page: Page): Promise<string[]> {
    return (await this.listTagPage(repositoryId, page)).names;
  }

  async listTagPage(repositoryId: number, page: Page): Promise<TagPage> {
    let query = this.database.db
      .selectFrom('tag')
      .select(['name', 'lifetime_end'])
      .where('repository_id', '=', repositoryId)
      .where(currentAt(this.now()))
      .orderBy('name')
      .limit(page.limit);
    if (page.last !== undefined) query = query.where('name', '>', page.last);
    const rows = await query.execute();
    const ends = rows.flatMap((r) => (r.lifetime_end === null ? [] : [toNumber(r.lifetime_end)]));
    return { names: rows.map((r) => r.name), lifetimeEnd: ends.length === 0 ? null : new Date(Math.min(...ends)) };
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

  async setTagExpiration(repositoryId: number, name: string, expiresAt: number | null, bounds: ExpiryBounds): Promise<{ previous: Date | null } | undefined> {
    return inRepositoryTransaction(this.database, repositoryId, async (trx) => {
      const row = await currentRows(trx, this.now(), repositoryId, name).executeTakeFirst();
      if (row === undefined) return undefined;
      const start = toNumber(row.lifetime_start);
      // Quay keeps an expiry between LABELED_EXPIRATION_MINIMUM and _MAXIMUM after the tag's start, clamping.
      const end = expiresAt === null ? null : start + Math.min(Math.max(expiresAt - start, bounds.minMs), bounds.maxMs);
      await trx.updateTable('tag').set({ lifetime_end: end }).where('id', '=', row.id).execute();
      return { previous: row.lifetime_end === null ? null : toDate(row.lifetime_end) };
    });
  }

  async restoreTag(repositoryId: number, name: string, manifestDigest: string, defaultWindowMs: number): Promise<RestoreOutcome> {
    return inRepositoryTransaction(this.database, repositoryId, async (trx) => {
      const now = this.now();
      const present = await trx.selectFrom('manifest').select('id').where('repository_id', '=', repositoryId).where('digest', '=', manifestDigest).executeTakeFirst();
      if (present === undefined) return { kind: 'missing' };
      const lifetimes = await trx
        .selectFrom('tag')
        .select('lifetime_end')
        .where('repository_id', '=', repositoryId)
        .where('name', '=', name)
        .where('manifest_digest', '=', manifestDigest)
        .execute();
      const ends = lifetimes.map((l) => (l.lifetime_end === null ? Number.POSITIVE_INFINITY : toNumber(l.lifetime_end)));
      if (ends.length > 0) {
        const windowMs = await namespaceWindowMs(trx, repositoryId, defaultWindowMs);
        const latest = Math.max(...ends);
        if (latest < now - windowMs) return { kind: 'outside-window', endedAt: new Date(latest), windowMs };
      }
      const previous = (await currentRows(trx, now, repositoryId, name).executeTakeFirst())?.manifest_digest;
      await pointTagAt(trx, now, repositoryId, name, manifestDigest);
      return { kind: 'restored', previous };
    });
  }
}
