import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Gives accounts a superuser flag (0 or 1, the portable boolean), set from the CLI (`quayside user create
 * --superuser`, `quayside user set-superuser`) so that the embedded default needs no config.yaml for its first
 * administrator; it is honoured in addition to SUPER_USERS. The same statement works on all three dialects.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable('account').addColumn('superuser', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}
