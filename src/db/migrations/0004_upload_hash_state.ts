import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Gives each upload its resumable SHA-256 state (src/registry/resumable-sha256.ts, a portable format of 49 to 112 bytes): the state after exactly
 * `size` bytes, written by the same compare-and-set that advances the size, so the instance that takes the
 * next chunk continues the digest from the row instead of re-reading the upload from storage. NULL means the
 * upload is empty (a fresh hash) or was written by a version that kept no state (see upload-hasher.ts).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  // MySQL's plain blob holds 64 KiB, far more than a hash state.
  const bytes = dialect === 'postgres' ? sql`bytea` : sql`blob`;
  await db.schema.alterTable('upload').addColumn('hash_state', bytes).execute();
}
