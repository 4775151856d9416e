import type { Config } from '../config/schema.js';
import { AuditLog } from '../audit/audit-log.js';
import { announceOutsideWrite } from '../cache/outside-writes.js';
import { authOptionsFrom } from '../auth/options.js';
import type { AccountMetadata } from '../db/account-metadata.js';
import { createAccountMetadata } from '../db/kysely-accounts.js';
import { createMetadata } from '../db/kysely-metadata.js';
import type { Metadata } from '../db/metadata.js';
import { CliError } from './cli-error.js';
import { connectDatabase, describeDatabase, ensureSchema, firstLine, isFreshEmbeddedDatabase, resolveConfig, resolveDataDir } from './runtime.js';

/** Where an administration command finds its database: the same flags as `quayside db`. */
export interface ConnectionFlags {
  config?: string;
  /** A Quay config directory (config.yaml, ssl.cert/ssl.key, extra_ca_certs/) instead of --config. */
  configDir?: string;
  dataDir?: string;
  /** Create the embedded database when it does not exist (otherwise refused: serve creates it). */
  init?: boolean;
}

/** What an administration command works with; opened by openAdminContext. */
export interface AdminContext {
  readonly config: Config;
  /** The database it works on, as `describeDatabase` names it (never with the password). */
  readonly where: string;
  readonly metadata: Metadata;
  readonly accounts: AccountMetadata;
  /** Effective superusers: SUPER_USERS when FEATURE_SUPER_USERS is on, as the server computes them. */
  readonly superUsers: ReadonlySet<string>;
  /**
   * Queues one audit row for a change made from the CLI: no performer, no client address, and
   * metadata.source 'cli' so that an auditor can tell it from an API call.
   */
  record(kind: string, where: { namespace: string | null; repository?: string | null }, metadata?: Record<string, unknown>): void;
  /**
   * Writes the queued audit rows (a change whose audit row cannot be written is reported, exit 1) and, when
   * something changed, tells the serving instances' caches over Redis (one stderr line saying how it went,
   * none when no Redis is configured).
   */
  finish(): Promise<void>;
  /** Stops the audit log (writing what it still can) and closes the database; never throws. */
  close(): Promise<void>;
}

/**
 * Resolves the configuration and data dir, opens the database and applies pending migrations (progress
 * on stderr, so stdout carries only the command's own answer). Safe while servers use the same database:
 * migrations take the migrator's lock and every store method is safe under concurrent callers.
 */
export async function openAdminContext(flags: ConnectionFlags): Promise<AdminContext> {
  const { config, database: where, edge } = await resolveConfig({ file: flags.config, dir: flags.configDir }, resolveDataDir(flags.dataDir));
  // Run from the wrong directory, an admin command would otherwise make a new, empty registry there.
  if (isFreshEmbeddedDatabase(where) && flags.init !== true) {
    throw new CliError(
      `database: no registry database at ${describeDatabase(where).replace(/^sqlite /, '')}: give the --data-dir or --config of the registry (quayside serve creates it), or --init to create an empty one`,
    );
  }
  const database = await connectDatabase({ config, database: where, edge });
  try {
    await ensureSchema(database, true, (line) => process.stderr.write(`${line}\n`));
  } catch (error) {
    await database.close().catch(() => undefined);
    throw error;
  }
  const accounts = createAccountMetadata(database);
  // The failure is rethrown by flush() and reported once by finish(), so nothing is logged here.
  const auditLog = new AuditLog(accounts.audit, { error: () => undefined });
  let changes = 0;
  return {
    config,
    where: describeDatabase(where),
    metadata: createMetadata(database),
    accounts,
    superUsers: authOptionsFrom(config).superUsers,
    record(kind, where, metadata = {}) {
      changes += 1;
      auditLog.record({
        kind,
        performer: null,
        namespace: where.namespace,
        repository: where.repository ?? null,
        clientAddress: null,
        metadata: { source: 'cli', ...metadata },
      });
    },
    async finish() {
      try {
        await auditLog.flush();
      } catch (error) {
        throw new CliError(`audit log: the change was made but its audit row could not be written: ${firstLine(error)}`);
      }
      const told = changes > 0 ? await tellServingInstances(config) : undefined;
      if (told !== undefined) process.stderr.write(`${told}\n`);
    },
    async close() {
      await auditLog.close();
      await database.close().catch(() => undefined);
    },
  };
}

/**
 * The serving instances cache repositories and permission facts for 30 s while Redis carries their
 * invalidations (docs/redis.md); a change made here reaches them through the same channel, or waits that long.
 */
async function tellServingInstances(config: Config): Promise<string | undefined> {
  const outcome = await announceOutsideWrite(config);
  if (outcome.kind === 'sent') return `cache: ${outcome.listeners} serving process${outcome.listeners === 1 ? '' : 'es'} told to drop their cached entries`;
  // Without Redis nothing caches long enough to matter (3 s, permission facts not at all): nothing to say.
  if (outcome.kind === 'no-redis') return undefined;
  return `warning: serving instances were not told of the change (${outcome.reason}); they see it within 30 s`;
}
