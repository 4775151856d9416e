import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import { MissingReferenceError, type ManifestIndex, type ManifestRecord, type ManifestReference, type ManifestSummary, type NewManifest, type TaggedManifestRecord } from './metadata.js';
import { LOOKUP_BATCH_SIZE, presentDigests } from './lookup-batches.js';
import { ignoreDuplicate, inRepositoryTransaction, toDate, toNumber } from './query-helpers.js';
import { pointTagAt } from './tags.js';
import { currentAt } from './time-machine.js';
import type { Schema } from './schema.js';

const SUMMARY_COLUMNS = [
  'id', 'digest', 'media_type', 'artifact_type', 'subject_digest', 'annotations', 'size', 'created_at',
] as const;

type SummaryRow = {
  id: number;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  subject_digest: string | null;
  annotations: string | null;
  size: number | string;
  created_at: number | string;
};

/** Reads the stored annotations, keeping only string values (what the referrers API may report). */
export function parseAnnotations(text: string | null): Record<string, string> | null {
  if (text === null) return null;
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) if (typeof value === 'string') result[key] = value;
  return result;
}

function toSummary(row: SummaryRow): ManifestSummary {
  return {
    id: row.id,
    digest: row.digest,
    mediaType: row.media_type,
    artifactType: row.artifact_type,
    subjectDigest: row.subject_digest,
    annotations: parseAnnotations(row.annotations),
    size: toNumber(row.size),
    createdAt: toDate(row.created_at),
  };
}

/** The references without duplicates (a layer may appear twice in one manifest). */
function distinct(references: ManifestReference[]): ManifestReference[] {
  const seen = new Map<string, ManifestReference>();
  for (const r of references) seen.set(`${r.kind} ${r.digest}`, { digest: r.digest, kind: r.kind });
  return [...seen.values()];
}

/** ManifestIndex on the manifest and manifest_reference tables. */
export class KyselyManifestIndex implements ManifestIndex {
  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {}

  async putManifest(repositoryId: number, manifest: NewManifest, tags: readonly string[] = []): Promise<ManifestRecord> {
    const existing = await this.getManifest(repositoryId, manifest.digest);
    if (existing && tags.length === 0) return existing;
    // One transaction under the repository lock that garbage collection takes too: a manifest is never visible
    // without the references that protect its blobs, its references are re-checked where GC cannot interleave,
    // and a multi-tag push is never half visible.
    await inRepositoryTransaction(this.database, repositoryId, async (trx) => {
      if (!existing) {
        await this.checkStillPresent(trx, repositoryId, manifest);
        await ignoreDuplicate(
          this.database,
          trx.insertInto('manifest').values({
            repository_id: repositoryId,
            digest: manifest.digest,
            media_type: manifest.mediaType,
            artifact_type: manifest.artifactType,
            subject_digest: manifest.subjectDigest,
            annotations: manifest.annotations === null ? null : JSON.stringify(manifest.annotations),
            size: manifest.bytes.length,
            bytes: manifest.bytes,
            created_at: this.now(),
            expires_after_s: manifest.expiresAfterS ?? null,
          }),
          'digest',
        ).execute();
        await this.insertReferences(trx, repositoryId, manifest);
      }
      const now = this.now();
      for (const tag of tags) await pointTagAt(trx, now, repositoryId, tag, manifest.digest);
    });
    const stored = existing ?? (await this.getManifest(repositoryId, manifest.digest));
    if (!stored) throw new Error(`manifest ${manifest.digest} vanished right after it was stored`);
    return stored;
  }

  /** The blobs and child manifests checked by the route, checked again inside the repository transaction. */
  private async checkStillPresent(trx: Kysely<Schema>, repositoryId: number, manifest: NewManifest): Promise<void> {
    const references = distinct(manifest.references);
    for (let start = 0; start < references.length; start += LOOKUP_BATCH_SIZE) {
      const batch = references.slice(start, start + LOOKUP_BATCH_SIZE);
      const blobs = batch.filter((r) => r.kind === 'blob').map((r) => r.digest);
      const children = batch.filter((r) => r.kind === 'manifest').map((r) => r.digest);
      const present = new Set<string>();
      if (blobs.length > 0) {
        const rows = await trx
          .selectFrom('repository_blob')
          .select('digest')
          .where('repository_id', '=', repositoryId)
          .where('digest', 'in', blobs)
          .execute();
        for (const row of rows) present.add(`blob ${row.digest}`);
      }
      if (children.length > 0) {
        const rows = await trx
          .selectFrom('manifest')
          .select('digest')
          .where('repository_id', '=', repositoryId)
          .where('digest', 'in', children)
          .execute();
        for (const row of rows) present.add(`manifest ${row.digest}`);
      }
      const missing = batch.find((r) => !present.has(`${r.kind} ${r.digest}`));
      if (missing !== undefined) throw new MissingReferenceError(missing.digest);
    }
  }

  /** Idempotent: a concurrent put of the same manifest inserts the same rows, which are then ignored. */
  private async insertReferences(trx: Kysely<Schema>, repositoryId: number, manifest: NewManifest): Promise<void> {
    const row = await trx
      .selectFrom('manifest')
      .select('id')
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', manifest.digest)
      .executeTakeFirstOrThrow();
    const references = distinct(manifest.references);
    // In batches: one insert of a large index's thousands of rows would pass SQLite's bind-parameter limit.
    for (let start = 0; start < references.length; start += LOOKUP_BATCH_SIZE) {
      const batch = references.slice(start, start + LOOKUP_BATCH_SIZE);
      await ignoreDuplicate(
        this.database,
        trx
          .insertInto('manifest_reference')
          .values(batch.map((r) => ({ manifest_id: row.id, digest: r.digest, kind: r.kind }))),
        'digest',
      ).execute();
    }
  }

  async getManifest(repositoryId: number, digest: string): Promise<ManifestRecord | undefined> {
    const row = await this.database.db
      .selectFrom('manifest')
      .select([...SUMMARY_COLUMNS, 'repository_id', 'bytes'])
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return row && { ...toSummary(row), repositoryId: row.repository_id, bytes: Buffer.from(row.bytes) };
  }

  async getTaggedManifest(repositoryId: number, tag: string): Promise<TaggedManifestRecord | undefined> {
    const row = await this.database.db
      .selectFrom('tag')
      .innerJoin('manifest', (join) =>
        join.onRef('manifest.repository_id', '=', 'tag.repository_id').onRef('manifest.digest', '=', 'tag.manifest_digest'),
      )
      .select([...SUMMARY_COLUMNS.map((column) => `manifest.${column}` as const), 'manifest.repository_id', 'manifest.bytes', 'tag.lifetime_end'])
      .where('tag.repository_id', '=', repositoryId)
      .where('tag.name', '=', tag)
      .where(currentAt(this.now()))
      .executeTakeFirst();
    return (
      row && {
        ...toSummary(row),
        repositoryId: row.repository_id,
        bytes: Buffer.from(row.bytes),
        tagLifetimeEnd: row.lifetime_end === null ? null : toDate(row.lifetime_end),
      }
    );
  }

  async hasManifest(repositoryId: number, digest: string): Promise<boolean> {
    const row = await this.database.db
      .selectFrom('manifest')
      .select('id')
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return row !== undefined;
  }

  async presentManifests(repositoryId: number, digests: readonly string[]): Promise<Set<string>> {
    return presentDigests(digests, async (batch) => {
      const rows = await this.database.db
        .selectFrom('manifest')
        .select('digest')
        .where('repository_id', '=', repositoryId)
        .where('digest', 'in', batch)
        .execute();
      return rows.map((row) => row.digest);
    });
  }

  async deleteManifest(repositoryId: number, digest: string): Promise<boolean> {
    return inRepositoryTransaction(this.database, repositoryId, async (trx) => {
      const row = await trx
        .selectFrom('manifest')
        .select('id')
        .where('repository_id', '=', repositoryId)
        .where('digest', '=', digest)
        .executeTakeFirst();
      if (!row) return false;
      await trx.deleteFrom('manifest_reference').where('manifest_id', '=', row.id).execute();
      await trx.deleteFrom('manifest').where('id', '=', row.id).execute();
      // Tags pointing here end their lifetime; their history rows stay for restore.
      const now = this.now();
      await trx
        .updateTable('tag')
        .set({ lifetime_end: now })
        .where('repository_id', '=', repositoryId)
        .where('manifest_digest', '=', digest)
        .where(currentAt(now))
        .execute();
      return true;
    });
  }

  async listReferrers(repositoryId: number, subjectDigest: string, artifactType?: string): Promise<ManifestSummary[]> {
    let query = this.database.db
      .selectFrom('manifest')
      .select(SUMMARY_COLUMNS)
      .where('repository_id', '=', repositoryId)
      .where('subject_digest', '=', subjectDigest)
      .orderBy('created_at')
      .orderBy('id');
    if (artifactType !== undefined) query = query.where('artifact_type', '=', artifactType);
    return (await query.execute()).map(toSummary);
  }
}
