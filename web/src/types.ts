/** The /api/v1 shapes the UI reads (Quay's, as src/api/ answers them). */

export interface User {
  username: string;
  email: string | null;
  super_user: boolean;
  can_create_repo: boolean;
  organizations: { name: string; is_org_admin: boolean; can_create_repo: boolean }[];
}

export interface RepositorySummary {
  namespace: string;
  name: string;
  description: string | null;
  is_public: boolean;
  last_modified?: number | null;
  /** With ?quota=true: the bytes of the distinct blobs the repository links. */
  quota_report?: { quota_bytes: number; configured_quota: number | null };
}

export interface RepositoryList {
  repositories: RepositorySummary[];
  next_page?: string;
}

export interface RepositoryDetail {
  namespace: string;
  name: string;
  description: string | null;
  is_public: boolean;
  is_organization: boolean;
  can_write: boolean;
  can_admin: boolean;
  created: string;
}

export interface Tag {
  name: string;
  manifest_digest: string;
  start_ts: number;
  end_ts?: number;
  expiration?: string;
  is_manifest_list: boolean;
  size: number | null;
  last_modified: string;
}

export interface TagPage {
  tags: Tag[];
  page: number;
  has_additional: boolean;
}

export interface Platform {
  os?: string;
  architecture?: string;
  variant?: string;
}

export interface Manifest {
  digest: string;
  is_manifest_list: boolean;
  media_type: string;
  size: number | null;
  children: { digest: string; platform: Platform | null; size: number | null }[] | null;
}

export interface AppToken {
  uuid: string;
  title: string;
  created: string;
  last_accessed: string | null;
  expiration: string | null;
  token_code?: string;
}

/** One usage-log entry (GET .../logs). */
export interface LogEntry {
  kind: string;
  metadata: Record<string, unknown>;
  ip: string | null;
  datetime: string;
  performer?: { kind: string; name: string; is_robot: boolean };
  namespace?: { kind: string; name: string };
}

export interface LogPage {
  start_time: string;
  end_time: string;
  logs: LogEntry[];
  next_page?: string;
}

export type RepositoryRole = 'read' | 'write' | 'admin';

export const REPOSITORY_ROLES: readonly RepositoryRole[] = ['read', 'write', 'admin'];
