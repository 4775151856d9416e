import type { AccountKind, AuditEvent, AuditFilter, AuditPerformer, AuditRecord, AuditStore } from './account-metadata.js';
import type { Database } from './database.js';
import { toDate, toNumber } from './query-helpers.js';

/** Rows per INSERT: well under every dialect's bound-parameter limit (SQLite's is the lowest, 32766). */
const CHUNK = 200;

const PERFORMER_KINDS: ReadonlySet<string> = new Set<AccountKind | 'anonymous'>(['user', 'organization', 'robot', 'anonymous']);

function isPerformerKind(kind: string): kind is AuditPerformer['kind'] {
  return PERFORMER_KINDS.has(kind);
}

type AuditRow = {
  id: number | string;
  kind: string;
  performer_id: number | null;
  performer_name: string | null;
  performer_kind: string | null;
  namespace: string | null;
  repository: string | null;
  created_at: number | string;
  client_address: string | null;
  metadata: string;
};

function toPerformer(row: AuditRow): AuditPerformer | null {
  if (row.performer_name === null) return null;
  const kind = row.performer_kind !== null && isPerformerKind(row.performer_kind) ? row.performer_kind : 'anonymous';
  return row.performer_id === null ? { name: row.performer_name, kind } : { id: row.performer_id, name: row.performer_name, kind };
}

/** The stored JSON object; anything else (never written by append) reads as empty rather than failing the page. */
function parseMetadata(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  return {};
}

function toRecord(row: AuditRow): AuditRecord {
  return {
    id: toNumber(row.id),
    kind: row.kind,
    performer: toPerformer(row),
    namespace: row.namespace,
    repository: row.repository,
    at: toDate(row.created_at),
    clientAddress: row.client_address,
    metadata: parseMetadata(row.metadata),
  };
}

/** AuditStore on the audit_log table: append-only, read newest first with keyset paging on the id. */
export class KyselyAuditStore implements AuditStore {
  constructor(private readonly database: Database) {}

  async append(events: readonly AuditEvent[]): Promise<void> {
    for (let start = 0; start < events.length; start += CHUNK) {
      const rows = events.slice(start, start + CHUNK).map((event) => ({
        kind: event.kind,
        performer_id: event.performer?.id ?? null,
        performer_name: event.performer?.name ?? null,
        performer_kind: event.performer?.kind ?? null,
        namespace: event.namespace,
        repository: event.repository,
        created_at: event.at.getTime(),
        client_address: event.clientAddress,
        metadata: JSON.stringify(event.metadata),
      }));
      await this.database.db.insertInto('audit_log').values(rows).execute();
    }
  }

  async query(filter: AuditFilter, page: { limit: number; before?: number }): Promise<AuditRecord[]> {
    if (filter.kinds?.length === 0 || page.limit <= 0) return [];
    let query = this.database.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(page.limit);
    if (filter.namespace !== undefined) query = query.where('namespace', '=', filter.namespace);
    if (filter.repository !== undefined) query = query.where('repository', '=', filter.repository);
    if (filter.performer !== undefined) query = query.where('performer_name', '=', filter.performer);
    if (filter.kinds !== undefined) query = query.where('kind', 'in', filter.kinds);
    if (filter.since !== undefined) query = query.where('created_at', '>=', filter.since.getTime());
    if (filter.until !== undefined) query = query.where('created_at', '<', filter.until.getTime());
    if (page.before !== undefined) query = query.where('id', '<', page.before);
    return (await query.execute()).map(toRecord);
  }
}
