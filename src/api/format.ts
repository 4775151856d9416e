import type { AccountRecord } from '../db/account-metadata.js';

/** Quay's date format on the API (RFC 2822 in UTC, as Python's email.utils.formatdate writes it). */
export function quayDate(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '-0000');
}

/** Seconds since the epoch, as Quay's tag start_ts/end_ts. */
export function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/** A user or robot as Quay lists team members and permission delegates. */
export function memberView(account: AccountRecord): { name: string; kind: 'user'; is_robot: boolean } {
  return { name: account.name, kind: 'user', is_robot: account.kind === 'robot' };
}
