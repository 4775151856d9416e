import type { ColumnType, Generated } from 'kysely';
import type { AccountKind, RepositoryRole, TeamRole } from './account-metadata.js';

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
  /** Added by 0002_accounts. */
  description: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Int64;
}

export interface BlobTable {
  digest: string;
  size: Int64;
  created_at: Int64;
  /** Added by 0005_gc_touch: when last recorded (null: count from created_at). */
  touched_at: ColumnType<number | string | null, number | null | undefined, number | null>;
}

export interface RepositoryBlobTable {
  repository_id: number;
  digest: string;
  created_at: Int64;
  /** Added by 0005_gc_touch: when last linked (null: count from created_at). */
  touched_at: ColumnType<number | string | null, number | null | undefined, number | null>;
}

/** Added by 0005_gc_touch: who collects what until when. */
export interface GcLeaseTable {
  name: string;
  holder: string;
  expires_at: Int64;
}

/** Added by 0006_geo_replication: which storage location holds which blob. */
export interface BlobPlacementTable {
  digest: string;
  location: string;
  created_at: Int64;
}

/** Added by 0006_geo_replication: a blob still to copy to a location, and who copies it until when. */
export interface ReplicationJobTable {
  id: Generated<number>;
  digest: string;
  location: string;
  state: ColumnType<'queued' | 'failed', 'queued' | 'failed' | undefined, 'queued' | 'failed'>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Int64;
  lease_owner: string | null;
  lease_expires_at: ColumnType<number | string | null, number | null | undefined, number | null>;
  last_error: string | null;
  created_at: Int64;
}

export interface UploadTable {
  id: string;
  repository_id: number;
  size: Int64;
  created_at: Int64;
  updated_at: Int64;
  /** The resumable SHA-256 state after `size` bytes (see migrations/0004_upload_hash_state.ts). */
  hash_state: Uint8Array | null;
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
  /** Added by 0007_tag_expiration: the `quay.expires-after` label in seconds; null without one. */
  expires_after_s: ColumnType<number | string | null, number | null | undefined, number | null>;
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

/** A nullable bigint (milliseconds) column. */
export type NullableInt64 = ColumnType<number | string | null, number | null, number | null>;

/** Users, organizations and robots (Quay's `user` table): one name space for all three. */
export interface AccountTable {
  id: Generated<number>;
  name: string;
  kind: AccountKind;
  email: string | null;
  password_hash: string | null;
  token_hash: string | null;
  owner_id: number | null;
  /** 0 or 1 (portable boolean). */
  enabled: number;
  description: string | null;
  created_at: Int64;
  /** 0 or 1: a superuser set from the CLI, in addition to SUPER_USERS. */
  superuser: Generated<number>;
  /** Added by 0007_tag_expiration: the namespace's time machine window in seconds; null: DEFAULT_TAG_EXPIRATION. */
  removed_tag_expiration_s: ColumnType<number | string | null, number | null | undefined, number | null>;
}

export interface TeamTable {
  id: Generated<number>;
  organization_id: number;
  name: string;
  role: TeamRole;
  description: string | null;
  created_at: Int64;
}

export interface TeamMemberTable {
  team_id: number;
  account_id: number;
}

/** Exactly one of account_id and team_id is set. */
export interface RepositoryPermissionTable {
  id: Generated<number>;
  repository_id: number;
  account_id: number | null;
  team_id: number | null;
  role: RepositoryRole;
}

export interface PermissionPrototypeTable {
  /** Public uuid. */
  id: string;
  organization_id: number;
  account_id: number | null;
  team_id: number | null;
  role: RepositoryRole;
  created_at: Int64;
}

export interface AppTokenTable {
  /** Public uuid. */
  id: string;
  account_id: number;
  title: string;
  token_hash: string;
  created_at: Int64;
  expires_at: NullableInt64;
  last_used_at: NullableInt64;
}

export interface ServiceKeyTable {
  kid: string;
  public_key: string;
  created_by: string;
  created_at: Int64;
  expires_at: Int64;
}

export interface AuditLogTable {
  /** bigint on PostgreSQL and MySQL, so a string where the driver returns one. */
  id: Generated<number | string>;
  kind: string;
  performer_id: number | null;
  performer_name: string | null;
  performer_kind: string | null;
  namespace: string | null;
  repository: string | null;
  created_at: Int64;
  client_address: string | null;
  /** JSON object text. */
  metadata: string;
}

export interface LoginThrottleTable {
  key: string;
  failures: number;
  last_failure_at: Int64;
}

export interface SessionTable {
  id_hash: string;
  account_id: number;
  created_at: Int64;
  expires_at: Int64;
}

/** Added by 0010_pull_statistics: pulls of a tag (by tag name). */
export interface TagPullStatisticsTable {
  repository_id: number;
  tag_name: string;
  tag_pull_count: Int64;
  last_tag_pull_date: Int64;
  current_manifest_digest: string;
}

/** Added by 0010_pull_statistics: pulls of a manifest, by tag or by digest. */
export interface ManifestPullStatisticsTable {
  manifest_id: number;
  manifest_pull_count: Int64;
  last_manifest_pull_date: Int64;
}

/** Added by 0011_user_region: a namespace's own storage locations (Quay's UserRegion). */
export interface UserRegionTable {
  account_id: number;
  location: string;
  created_at: Int64;
}

/** Added by 0012_instance_registry: one serving instance and its latest heartbeat. */
export interface ServingInstanceTable {
  id: string;
  hostname: string;
  /** JSON: the listener addresses (e.g. ["http://10.0.0.5:5000"]). */
  addresses: string;
  version: string;
  started_at: Int64;
  last_seen_at: Int64;
  /** JSON: the latest /health/instance and /health/endtoend results. */
  health: string;
}

/** Added by 0013_swift_auth_token: the fleet's shared Swift token for one set of credentials, sealed. */
export interface SwiftAuthTokenTable {
  /** Hex SHA-256 of the credentials' identity (never of the password). */
  cache_key: string;
  /** base64 of IV | AES-256-GCM ciphertext | tag, under a key derived from the credentials. */
  sealed: string;
  /** Hex HMAC of the token under the same derived secret: what compare-and-delete compares. */
  fingerprint: string;
  expires_at: ColumnType<number | string | null, number | null, number | null>;
  written_at: Int64;
}

export interface Schema {
  repository: RepositoryTable;
  blob: BlobTable;
  repository_blob: RepositoryBlobTable;
  upload: UploadTable;
  gc_lease: GcLeaseTable;
  blob_placement: BlobPlacementTable;
  replication_job: ReplicationJobTable;
  manifest: ManifestTable;
  manifest_reference: ManifestReferenceTable;
  tag: TagTable;
  account: AccountTable;
  team: TeamTable;
  team_member: TeamMemberTable;
  repository_permission: RepositoryPermissionTable;
  permission_prototype: PermissionPrototypeTable;
  app_token: AppTokenTable;
  service_key: ServiceKeyTable;
  audit_log: AuditLogTable;
  login_throttle: LoginThrottleTable;
  session: SessionTable;
  tag_pull_statistics: TagPullStatisticsTable;
  manifest_pull_statistics: ManifestPullStatisticsTable;
  user_region: UserRegionTable;
  serving_instance: ServingInstanceTable;
  swift_auth_token: SwiftAuthTokenTable;
}
