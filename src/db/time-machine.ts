import type { ExpressionBuilder, Kysely } from 'kysely';
import { toNumber } from './query-helpers.js';
import type { Schema } from './schema.js';

/**
 * The two time rules of tags, in one place: which lifetime is current, and how long a namespace's ended
 * lifetimes stay restorable (docs/tag-expiration.md).
 */

/**
 * A tag lifetime is current while it has no end or its end (an expiry) is still ahead: the condition Quay's
 * queries use, so an expired tag leaves pulls and listings at its expiry without any job flipping a row.
 */
export function currentAt(now: number) {
  return (eb: ExpressionBuilder<Schema, 'tag'>) => eb.or([eb('tag.lifetime_end', 'is', null), eb('tag.lifetime_end', '>', now)]);
}

/**
 * The time machine window of the repository's namespace: its user's or organization's removed_tag_expiration_s,
 * else `defaultMs` (DEFAULT_TAG_EXPIRATION). Namespaces without an account follow the default.
 */
export async function namespaceWindowMs(db: Kysely<Schema>, repositoryId: number, defaultMs: number): Promise<number> {
  const row = await db
    .selectFrom('repository')
    .innerJoin('account', 'account.name', 'repository.namespace')
    .select('account.removed_tag_expiration_s')
    .where('repository.id', '=', repositoryId)
    .where('account.kind', 'in', ['user', 'organization'])
    .executeTakeFirst();
  const seconds = row?.removed_tag_expiration_s;
  return seconds === undefined || seconds === null ? defaultMs : toNumber(seconds) * 1000;
}
