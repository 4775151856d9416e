import type { Database } from './database.js';
import { retryOnDeadlock, toNumber } from './query-helpers.js';

/**
 * The fleet's shared Swift auth tokens (docs/storage-swift.md), as the Swift driver sees them: opaque sealed
 * records, one per set of credentials. The driver seals and opens them (src/storage/swift/token-sharing.ts);
 * this table only stores, expires and compare-and-deletes, so a reader of the database learns no token.
 */

/** One shared token as stored: sealed by the driver, with what the database needs to expire and drop it. */
export interface SharedTokenRecord {
  /** base64 of IV | ciphertext | tag (AES-256-GCM under a key derived from the credentials). */
  sealed: string;
  /** Hex HMAC of the token under the same derived secret, for compare-and-delete. */
  fingerprint: string;
  /** Epoch ms; undefined when the auth service did not say. */
  expiresAt?: number;
}

/** Where the Swift driver shares its token with every other process of the fleet. */
export interface SharedTokenCache {
  /** The record under `key` unless it expires at or before `usableUntil` (epoch ms); undefined when none. */
  get(key: string, usableUntil: number): Promise<SharedTokenRecord | undefined>;
  /** Writes the record under `key` (the last writer wins) and forgets records long expired. */
  put(key: string, record: SharedTokenRecord): Promise<void>;
  /** Deletes the record under `key` only if it still holds the token of `fingerprint` (a newer one is kept). */
  drop(key: string, fingerprint: string): Promise<void>;
}

/** The swift_auth_token table (migration 0013). */
export class KyselySharedTokenCache implements SharedTokenCache {
  constructor(
    private readonly database: Database,
    private readonly now: () => number = Date.now,
  ) {}

  async get(key: string, usableUntil: number): Promise<SharedTokenRecord | undefined> {
    const row = await this.database.db
      .selectFrom('swift_auth_token')
      .select(['sealed', 'fingerprint', 'expires_at'])
      .where('cache_key', '=', key)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', usableUntil)]))
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return { sealed: row.sealed, fingerprint: row.fingerprint, ...(row.expires_at !== null && { expiresAt: toNumber(row.expires_at) }) };
  }

  async put(key: string, record: SharedTokenRecord): Promise<void> {
    const now = this.now();
    const changing = { sealed: record.sealed, fingerprint: record.fingerprint, expires_at: record.expiresAt ?? null, written_at: now };
    const insert = this.database.db.insertInto('swift_auth_token').values({ cache_key: key, ...changing });
    await retryOnDeadlock(() =>
      (this.database.dialect === 'mysql' ? insert.onDuplicateKeyUpdate(changing) : insert.onConflict((oc) => oc.column('cache_key').doUpdateSet(changing))).execute(),
    );
    // Rows of credentials no longer configured would otherwise stay for ever; a day past expiry is long enough
    // for no instance to be using them.
    await this.database.db.deleteFrom('swift_auth_token').where('expires_at', '<', now - PURGE_AFTER_EXPIRY_MS).execute();
  }

  async drop(key: string, fingerprint: string): Promise<void> {
    await this.database.db.deleteFrom('swift_auth_token').where('cache_key', '=', key).where('fingerprint', '=', fingerprint).execute();
  }
}

const PURGE_AFTER_EXPIRY_MS = 24 * 3600 * 1000;
