import type { ColumnType, Generated } from 'kysely';

/**
 * Kysely's view of the tables created by src/db/migrations/. Times are stored as bigint milliseconds
 * since the epoch on every dialect: one representation, no session time-zone surprises on MySQL, and
 * exact equality in tests. PostgreSQL returns bigint as a string, so selected bigints are `number | string`
 * and the data-access code converts them (see toNumber in src/db/query-helpers.ts).
 */
export type Int64 = ColumnType<number | string, number, number>;

export interface RepositoryTable {
  id: Generated<number>;
  name: string;
  namespace: string;
  visibility: 'public' | 'private';
  created_at: Int64;
}

export interface BlobTable {
  digest: string;
  size: Int64;
  created_at: Int64;
}

export interface RepositoryBlobTable {
  repository_id: number;
  digest: string;
  created_at: Int64;
}

export interface UploadTable {
  id: string;
  repository_id: number;
  size: Int64;
  created_at: Int64;
  updated_at: Int64;
}

export interface ManifestTable {
  id: Generated<number>;
  repository_id: number;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  subject_digest: string | null;
  /** JSON object text, or null. */
  annotations: string | null;
  size: Int64;
  bytes: Buffer;
  created_at: Int64;
}

export interface ManifestReferenceTable {
  manifest_id: number;
  digest: string;
  kind: 'blob' | 'manifest';
}

export interface TagTable {
  id: Generated<number>;
  repository_id: number;
  name: string;
  manifest_digest: string;
  lifetime_start: Int64;
  lifetime_end: ColumnType<number | string | null, number | null, number | null>;
}

export interface Schema {
  repository: RepositoryTable;
  blob: BlobTable;
  repository_blob: RepositoryBlobTable;
  upload: UploadTable;
  manifest: ManifestTable;
  manifest_reference: ManifestReferenceTable;
  tag: TagTable;
}
