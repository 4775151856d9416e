import type { Database } from './database.js';
import { retryOnDeadlock, toDate } from './query-helpers.js';

/** One service's verdict in a heartbeat, as /health/instance and /health/endtoend report it. */
export interface HealthSnapshot {
  /** 200 or 503, as the endpoint would answer. */
  status_code: number;
  services: Record<string, boolean>;
}

/** A serving instance as it records itself (src/health/instance-heartbeat.ts). */
export interface InstanceRecord {
  /** Random per start: a restarted instance is a new row, the old one goes stale and is purged. */
  id: string;
  hostname: string;
  /** Listener addresses, e.g. `http://10.0.0.5:5000`. */
  addresses: string[];
  version: string;
  startedAt: Date;
  lastSeenAt: Date;
  /** The latest results; null when the instance has not finished its first check yet. */
  health: { instance: HealthSnapshot; endtoend: HealthSnapshot } | null;
}

type InstanceRow = {
  id: string;
  hostname: string;
  addresses: string;
  version: string;
  started_at: number | string;
  last_seen_at: number | string;
  health: string;
};

/** Parses a JSON column written by this file; a row broken by hand reads as empty rather than failing the page. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function toRecord(row: InstanceRow): InstanceRecord {
  const addresses = parseJson(row.addresses);
  const health = parseJson(row.health);
  return {
    id: row.id,
    hostname: row.hostname,
    addresses: Array.isArray(addresses) ? addresses.filter((a): a is string => typeof a === 'string') : [],
    version: row.version,
    startedAt: toDate(row.started_at),
    lastSeenAt: toDate(row.last_seen_at),
    health: typeof health === 'object' && health !== null && 'instance' in health && 'endtoend' in health ? (health as InstanceRecord['health']) : null,
  };
}

/** The serving_instance table: every instance's own row, written by its heartbeat. */
export class KyselyInstanceRegistry {
  constructor(private readonly database: Database) {}

  /** Writes the instance's row (inserted on its first heartbeat, replaced on every later one). */
  async record(instance: InstanceRecord): Promise<void> {
    const values = {
      id: instance.id,
      hostname: instance.hostname.slice(0, 255),
      addresses: JSON.stringify(instance.addresses),
      version: instance.version.slice(0, 64),
      started_at: instance.startedAt.getTime(),
      last_seen_at: instance.lastSeenAt.getTime(),
      health: JSON.stringify(instance.health),
    };
    const changing = { addresses: values.addresses, last_seen_at: values.last_seen_at, health: values.health };
    const insert = this.database.db.insertInto('serving_instance').values(values);
    await retryOnDeadlock(() =>
      (this.database.dialect === 'mysql' ? insert.onDuplicateKeyUpdate(changing) : insert.onConflict((oc) => oc.column('id').doUpdateSet(changing))).execute(),
    );
  }

  /** Every recorded instance, the most recently seen first. */
  async list(): Promise<InstanceRecord[]> {
    const rows = await this.database.db
      .selectFrom('serving_instance')
      .select(['id', 'hostname', 'addresses', 'version', 'started_at', 'last_seen_at', 'health'])
      .orderBy('last_seen_at', 'desc')
      .orderBy('id')
      .execute();
    return rows.map(toRecord);
  }

  /** Deletes the rows last seen before `before`; returns how many. */
  async purgeSeenBefore(before: Date): Promise<number> {
    const result = await this.database.db.deleteFrom('serving_instance').where('last_seen_at', '<', before.getTime()).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
