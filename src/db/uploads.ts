import type { Database } from './database.js';
import type { UploadIndex, UploadRecord } from './metadata.js';
import { toDate, toNumber } from './query-helpers.js';

const COLUMNS = ['id', 'repository_id', 'size', 'hash_state', 'created_at', 'updated_at'] as const;

type UploadRow = {
  id: string;
  repository_id: number;
  size: number | string;
  hash_state: Uint8Array | null;
  created_at: number | string;
  updated_at: number | string;
};

function toRecord(row: UploadRow): UploadRecord {
  return {
    id: row.id,
    repositoryId: row.repository_id,
    size: toNumber(row.size),
    // The drivers hand back Buffers; a copy detaches the state from their pooled memory.
    hashState: row.hash_state === null ? null : new Uint8Array(row.hash_state),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}

/** UploadIndex on the upload table; the offset moves only by compare-and-set so any instance may take a chunk. */
export class KyselyUploadIndex implements UploadIndex {
  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {}

  async createUpload(id: string, repositoryId: number): Promise<UploadRecord> {
    const now = this.now();
    await this.database.db
      .insertInto('upload')
      .values({ id, repository_id: repositoryId, size: 0, hash_state: null, created_at: now, updated_at: now })
      .execute();
    return { id, repositoryId, size: 0, hashState: null, createdAt: new Date(now), updatedAt: new Date(now) };
  }

  async getUpload(id: string): Promise<UploadRecord | undefined> {
    const row = await this.database.db.selectFrom('upload').select(COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  async advanceUpload(id: string, expectedSize: number, newSize: number, hashState: Uint8Array | null): Promise<boolean> {
    const result = await this.database.db
      .updateTable('upload')
      .set({ size: newSize, hash_state: hashState === null ? null : Buffer.from(hashState), updated_at: this.now() })
      .where('id', '=', id)
      .where('size', '=', expectedSize)
      .executeTakeFirst();
    // MySQL counts matched rows here (mysql2 connects with CLIENT_FOUND_ROWS), so an unchanged row still counts.
    return result.numUpdatedRows > 0n;
  }

  async deleteUpload(id: string): Promise<void> {
    await this.database.db.deleteFrom('upload').where('id', '=', id).execute();
  }

  async listStaleUploads(before: Date, limit: number): Promise<UploadRecord[]> {
    const rows = await this.database.db
      .selectFrom('upload')
      .select(COLUMNS)
      .where('updated_at', '<', before.getTime())
      .orderBy('updated_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toRecord);
  }
}
