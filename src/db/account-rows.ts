import type { AccountKind, AccountRecord } from './account-metadata.js';
import { toDate } from './query-helpers.js';

/** The account columns every AccountRecord is built from (qualified, so they also work in joins). */
export const ACCOUNT_COLUMNS = [
  'account.id',
  'account.name',
  'account.kind',
  'account.email',
  'account.enabled',
  'account.owner_id',
  'account.description',
  'account.created_at',
  'account.superuser',
] as const;

export type AccountRow = {
  id: number;
  name: string;
  kind: AccountKind;
  email: string | null;
  enabled: number | string;
  owner_id: number | null;
  description: string | null;
  created_at: number | string;
  superuser: number | string;
};

/** An account row as the contract's record (enabled is stored as 0 or 1 on every dialect). */
export function toAccountRecord(row: AccountRow): AccountRecord {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    email: row.email,
    enabled: Number(row.enabled) !== 0,
    ownerId: row.owner_id,
    description: row.description,
    createdAt: toDate(row.created_at),
    superuser: Number(row.superuser) !== 0,
  };
}
