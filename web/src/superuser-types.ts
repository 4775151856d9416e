/** The /api/v1/superuser/ shapes the superuser pages read (src/api/users.ts, superuser.ts, logs.ts). */

export interface SuperuserUser {
  username: string;
  email: string | null;
  enabled: boolean;
  super_user: boolean;
}

export interface SuperuserUserPage {
  users: SuperuserUser[];
  next_page?: string;
}

export interface CreatedUser {
  username: string;
  email: string | null;
  password: string;
}

export interface SuperuserOrganization {
  name: string;
  email: string;
}

export interface SuperuserOrganizationPage {
  organizations: SuperuserOrganization[];
  next_page?: string;
}

export interface AuditEntry {
  kind: string;
  metadata: Record<string, unknown>;
  ip: string | null;
  datetime: string;
  performer?: { name: string; is_robot: boolean };
  namespace?: { kind: string; name: string };
}

export interface AuditPage {
  logs: AuditEntry[];
  next_page?: string;
}

export interface ServiceKey {
  kid: string;
  metadata: { created_by?: string };
  created_date: string;
  expiration_date: string;
}

export interface StorageLocation {
  name: string;
  driver: string;
  preferred: boolean;
}

export interface StorageCheck {
  name: string;
  driver: string;
  ok: boolean;
  failure?: string;
}

export interface StorageValidation {
  status: boolean;
  reason?: string;
  locations: StorageCheck[];
}

/** /health/instance and /health/endtoend (Quay's shape). */
export interface HealthReport {
  data: { services: Record<string, boolean> };
  status_code: number;
}

/** One service report in a heartbeat: what /health/instance or /health/endtoend answered then. */
export interface HealthSnapshot {
  status_code: number;
  services: Record<string, boolean>;
}

/** GET /superuser/instances: one instance of the fleet, as its last heartbeat recorded it. */
export interface FleetInstance {
  id: string;
  hostname: string;
  addresses: string[];
  version: string;
  started: string;
  last_seen: string;
  seen_seconds_ago: number;
  seen: boolean;
  this_instance: boolean;
  health: { instance: HealthSnapshot; endtoend: HealthSnapshot } | null;
}

export interface FleetPage {
  instances: FleetInstance[];
  not_seen_after_seconds: number | null;
}
