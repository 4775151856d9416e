import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Tag expiration and the per-namespace time machine (docs/tag-expiration.md).
 *
 * - account.removed_tag_expiration_s (Quay's column name): how long a deleted, moved or expired tag of the
 *   user's or organization's repositories can still be restored, and keeps its manifest from garbage
 *   collection. Null: DEFAULT_TAG_EXPIRATION, so a namespace nobody configured follows the config file.
 * - manifest.expires_after_s: the `quay.expires-after` label of the image's config, in seconds, read once at
 *   push; every tag pointed at the manifest then ends that long after it started, as in Quay. Null: no label.
 *
 * An expiry itself needs no column: a tag's lifetime_end in the future is its expiry, and "current" means
 * lifetime_end null or later than now (the condition Quay's queries use), so nothing has to flip it.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable('account').addColumn('removed_tag_expiration_s', 'bigint').execute();
  await db.schema.alterTable('manifest').addColumn('expires_after_s', 'bigint').execute();
}
