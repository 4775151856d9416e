import { existsSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { loadConfigFile, defaultConfig, ConfigError, type LoadedConfig } from '../config/load.js';
import type { Config, StorageLocationConfig } from '../config/schema.js';
import { DatabaseConfigError, openDatabase, parseDatabaseConfig, type Database, type DatabaseConfig, type QueryObserver } from '../db/database.js';
import { migrateToLatest, pendingMigrations } from '../db/migrate.js';
import type { ConnectionLog } from '../db/pool-bounds.js';
import { buildStorageLocation, describeStorageFailure, parseStorageLocation, StorageConfigError, type ParsedStorageLocation } from '../storage/factory.js';
import type { BlobStore } from '../storage/blob-store.js';
import { DistributedBlobStore, type DistributedStoreLog, type DistributedStoreObserver, type StorageLocation } from '../storage/distributed.js';
import { KyselyPlacementIndex } from '../db/placements.js';
import { KyselySharedTokenCache } from '../db/swift-tokens.js';
import { SharedTokenLink, type SharedTokenLog } from '../storage/shared-token-link.js';
import { CliError } from './cli-error.js';
import { caListWith } from '../net/extra-ca.js';
import { checkEdgeFiles, chooseConfigLocation, configFileOf, type ConfigLocation, type EdgeFiles } from './config-dir.js';
import type { StorageValidation } from '../api/superuser.js';

export type { ConfigLocation } from './config-dir.js';

/** The data directory: flag, then QUAYSIDE_DATA_DIR, then ./quayside-data. */
export function resolveDataDir(flag: string | undefined): string {
  return path.resolve(flag ?? process.env.QUAYSIDE_DATA_DIR ?? 'quayside-data');
}

/** A configuration every command may start from: all that `serve` would refuse has been refused. */
export interface CheckedConfig {
  config: Config;
  /** One line each, to be shown before the command goes on. */
  warnings: string[];
  /** The file it came from, or "the embedded default". */
  source: string;
  /** The config directory's certificate pair and extra CAs (none without --config-dir). */
  edge: EdgeFiles;
  database: DatabaseConfig;
  /** The first preferred location: where this instance's pushes go. */
  storage: { location: string; config: StorageLocationConfig };
  /** Every location of DISTRIBUTED_STORAGE_CONFIG, parsed by its driver, in this instance's preference order. */
  locations: ParsedStorageLocation[];
}

/** Quay's peewee settings: accepted so a Quay file starts, but they mean nothing to a Node pool. */
const PEEWEE_ONLY_ARGS = new Set(['threadlocals', 'autorollback']);
/** Pool settings that a single SQLite connection has no use for. */
const POOL_ONLY_ARGS = new Set(['max_connections', 'stale_timeout']);

/** DB_CONNECTION_ARGS that are accepted but change nothing, each named (nothing in a file is dropped silently). */
function connectionArgWarnings(database: DatabaseConfig, args: Record<string, unknown>): string[] {
  const warnings: string[] = [];
  for (const key of Object.keys(args)) {
    if (PEEWEE_ONLY_ARGS.has(key)) warnings.push(`DB_CONNECTION_ARGS.${key} is a Quay (peewee) setting that has no effect in Quayside`);
    else if (database.dialect === 'sqlite' && POOL_ONLY_ARGS.has(key)) {
      warnings.push(`DB_CONNECTION_ARGS.${key} has no effect on SQLite (one connection serves each process)`);
    }
  }
  return warnings;
}

/**
 * The one validation of a configuration, shared by `serve`, `config validate` and the admin commands: the
 * file's keys (when --config/QUAYSIDE_CONFIG names one, or the config.yaml of --config-dir/QUAYSIDE_CONFIG_DIR,
 * whose ssl.cert/ssl.key and extra_ca_certs/ are checked too) with the embedded defaults filling what it leaves
 * out, then the database URI and arguments and every storage location, as `serve` would use them. No I/O
 * beyond reading the file (and TLS files it names). CliError (one line) for whatever cannot start.
 */
export async function checkConfiguration(location: ConfigLocation | string | undefined, dataDir: string): Promise<CheckedConfig> {
  const defaults = defaultConfig(dataDir);
  const chosen = chooseConfigLocation(location);
  const file = chosen.dir !== undefined ? await configFileOf(chosen.dir) : chosen.file;
  let loaded: LoadedConfig = { config: defaults, warnings: [] };
  const source = file ? file : 'the embedded default';
  if (file) {
    try {
      loaded = await loadConfigFile(path.resolve(file));
    } catch (error) {
      if (error instanceof ConfigError) throw new CliError(error.message.replace(path.resolve(file), file));
      throw error;
    }
  }
  const config = { ...loaded.config };
  const warnings = [...loaded.warnings];
  if (!config.DB_URI) config.DB_URI = defaults.DB_URI;
  if (Object.keys(config.DISTRIBUTED_STORAGE_CONFIG).length === 0) {
    config.DISTRIBUTED_STORAGE_CONFIG = defaults.DISTRIBUTED_STORAGE_CONFIG;
    config.DISTRIBUTED_STORAGE_PREFERENCE = defaults.DISTRIBUTED_STORAGE_PREFERENCE;
  }

  let database: DatabaseConfig;
  try {
    database = parseDatabaseConfig({ uri: config.DB_URI!, connectionArgs: config.DB_CONNECTION_ARGS });
  } catch (error) {
    if (error instanceof DatabaseConfigError) throw new CliError(`${source}: ${error.message}`);
    throw error;
  }
  warnings.push(...connectionArgWarnings(database, config.DB_CONNECTION_ARGS));

  // The schema guarantees a preference naming configured locations whenever locations are configured.
  const preferred = config.DISTRIBUTED_STORAGE_PREFERENCE[0] ?? Object.keys(config.DISTRIBUTED_STORAGE_CONFIG)[0]!;
  // Every location is parsed by its driver, used or not: a bad one must not wait for the day it is preferred.
  const parsed = new Map<string, ParsedStorageLocation>();
  for (const [name, location] of Object.entries(config.DISTRIBUTED_STORAGE_CONFIG)) {
    try {
      parsed.set(name, parseStorageLocation(name, location));
    } catch (error) {
      if (error instanceof StorageConfigError) throw new CliError(`${source}: ${error.message}`);
      throw error;
    }
  }
  // This instance's preference order, then the locations it does not name (they still serve as fallbacks).
  const order = [...new Set([preferred, ...config.DISTRIBUTED_STORAGE_PREFERENCE, ...parsed.keys()])];
  const locations = order.flatMap((name) => (parsed.has(name) ? [parsed.get(name)!] : []));
  warnings.push(...replicationWarnings(config));
  const edge = await checkEdgeFiles(chosen.dir, config);
  return {
    config,
    warnings,
    source,
    edge,
    database,
    storage: { location: preferred, config: config.DISTRIBUTED_STORAGE_CONFIG[preferred]! },
    locations,
  };
}

/** The geo-replication settings that cannot do what they seem to ask for (docs/geo-replication.md). */
function replicationWarnings(config: Config): string[] {
  const required = config.DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS;
  if (config.FEATURE_STORAGE_REPLICATION && required.length === 0) {
    return ['FEATURE_STORAGE_REPLICATION is true but DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS is empty: pushed blobs are not replicated'];
  }
  if (!config.FEATURE_STORAGE_REPLICATION && required.length > 0) {
    return [`DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS (${required.join(', ')}) has no effect while FEATURE_STORAGE_REPLICATION is false: pushed blobs are not replicated`];
  }
  return [];
}

/** checkConfiguration, with its warnings written to stderr (one `warning:` line each). */
export async function resolveConfig(location: ConfigLocation | string | undefined, dataDir: string): Promise<CheckedConfig> {
  const checked = await checkConfiguration(location, dataDir);
  for (const warning of checked.warnings) process.stderr.write(`warning: ${warning}\n`);
  return checked;
}

/** Where the metadata lives, for banners and admin commands: host, port, database and user; never the password. */
export function describeDatabase(database: DatabaseConfig): string {
  if (database.dialect === 'sqlite') return `sqlite ${database.filename}`;
  const user = database.user === undefined ? '' : ` as ${database.user}`;
  const host = database.host.includes(':') ? `[${database.host}]` : database.host;
  return `${database.dialect} database ${database.database} on ${host}:${database.port}${user}`;
}

/** True when the configuration names an embedded SQLite file that does not exist yet. */
export function isFreshEmbeddedDatabase(database: DatabaseConfig): boolean {
  return database.dialect === 'sqlite' && database.filename !== ':memory:' && !existsSync(database.filename);
}

/**
 * Opens the configured database and makes one round trip, so that an unreachable server, a refused login or a
 * missing database is reported as such (one line naming the database), before any migration runs.
 */
export async function connectDatabase(checked: Pick<CheckedConfig, 'config' | 'database'> & Partial<Pick<CheckedConfig, 'edge'>>, log?: ConnectionLog, onQuery?: QueryObserver): Promise<Database> {
  const where = describeDatabase(checked.database);
  const extraCa = checked.edge?.extraCa.certificates ?? [];
  let database: Database;
  try {
    database = await openDatabase({
      uri: checked.config.DB_URI!,
      connectionArgs: checked.config.DB_CONNECTION_ARGS,
      log,
      onQuery,
      defaultCa: extraCa.length > 0 ? caListWith(extraCa) : undefined,
    });
  } catch (error) {
    throw new CliError(`database: cannot open ${where}: ${firstLine(error)}`);
  }
  try {
    await sql`select 1`.execute(database.db);
  } catch (error) {
    await database.close().catch(() => undefined);
    throw new CliError(`database: cannot connect to ${where}: ${firstLine(error)}`);
  }
  return database;
}

/** Applies pending migrations, or refuses to go on when told not to migrate and some are pending. */
export async function ensureSchema(database: Database, migrate: boolean, log: (line: string) => void): Promise<void> {
  if (migrate) {
    let applied: string[];
    try {
      applied = await migrateToLatest(database, log);
    } catch (error) {
      throw new CliError(`database: ${firstLine(error)}`);
    }
    if (applied.length > 0) log(`database: applied ${applied.length} migration(s)`);
    return;
  }
  const pending = await pendingMigrations(database);
  if (pending.length > 0) {
    throw new CliError(`database: ${pending.length} migration(s) pending (${pending.join(', ')}); run quayside db migrate`);
  }
}

/** A storage check that has not answered by then has failed: object stores retry, but a start must not hang. */
export const STORAGE_CHECK_TIMEOUT_MS = 60_000;

/** The outcome of checking one location: its store (built, pinged) or the one line saying what failed. */
export interface StorageCheck {
  location: ParsedStorageLocation;
  store: BlobStore;
  /** undefined when the location passed; otherwise `<driver detail>: <what failed>`. */
  failure?: string;
}

function withTimeout(check: Promise<void>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
  });
  return Promise.race([check, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Builds every configured location and runs Quay's check on each, concurrently: ping() writes
 * `<storage_path>/_verify` with `testing 123` and reads it back. `onStart` hears each location as its check
 * begins (progress for `storage validate`). Never rejects for a failing location; its check says why.
 */
export async function checkStorageLocations(
  checked: Pick<CheckedConfig, 'locations' | 'edge'>,
  options: { onStart?: (location: ParsedStorageLocation) => void; timeoutMs?: number; sharedTokens?: SharedTokenLink } = {},
): Promise<StorageCheck[]> {
  const context = { extraCa: checked.edge.extraCa.certificates, now: Date.now, ...(options.sharedTokens && { sharedTokens: options.sharedTokens }) };
  return Promise.all(
    checked.locations.map(async (location): Promise<StorageCheck> => {
      // Parsed already, so building (no I/O) cannot fail on the parameters.
      const store = buildStorageLocation(location, context);
      options.onStart?.(location);
      try {
        await withTimeout(store.ping(), options.timeoutMs ?? STORAGE_CHECK_TIMEOUT_MS);
        return { location, store };
      } catch (error) {
        return { location, store, failure: describeStorageFailure(location, error) };
      }
    }),
  );
}

/**
 * The superuser API's view of the storage locations (src/api/superuser.ts): the same check as `quayside
 * storage validate`, run on demand, each store closed once it has answered. With the fleet's shared token
 * (`sharedTokens`), a check authenticates only when the fleet's token is missing or expired, as serving does.
 */
export function storageValidationOf(checked: Pick<CheckedConfig, 'locations' | 'edge'>, sharedTokens?: SharedTokenLink): StorageValidation {
  return {
    locations: () => checked.locations.map((location) => ({ name: location.name, driver: location.driver.name })),
    validate: async () => {
      const checks = await checkStorageLocations(checked, { ...(sharedTokens && { sharedTokens }) });
      await Promise.all(checks.map((check) => check.store.close?.().catch(() => undefined)));
      return checks.map(({ location, failure }) => ({
        name: location.name,
        driver: location.driver.name,
        ok: failure === undefined,
        ...(failure === undefined ? {} : { failure }),
      }));
    },
  };
}

/**
 * Every location's store, in this instance's preference order, after each was built and checked: the first
 * (where pushes go) must pass, else one CliError line; another one that fails is a warning and stays in the
 * list: reads fall back from it, its circuit breaker keeps it out of the way while it fails, and it is used
 * again once it works (docs/geo-replication.md).
 */
export async function openStorageLocations(checked: CheckedConfig, sharedTokens?: SharedTokenLink): Promise<StorageLocation[]> {
  const checks = await checkStorageLocations(checked, { ...(sharedTokens && { sharedTokens }) });
  const [preferred, ...others] = checks;
  for (const other of others) {
    if (other.failure !== undefined) process.stderr.write(`warning: storage location ${other.location.name}: ${other.failure}\n`);
  }
  if (preferred === undefined) throw new CliError('no storage location is configured');
  if (preferred.failure !== undefined) {
    await Promise.allSettled(checks.map((check) => check.store.close?.()));
    throw new CliError(`storage location ${preferred.location.name}: ${preferred.failure}`);
  }
  return checks.map((check) => ({ name: check.location.name, store: check.store }));
}

/**
 * The link through which the stores share their auth token with the fleet (SwiftStorage; docs/storage-swift.md):
 * empty until shareStorageTokens attaches the database; none at all when STORAGE_SWIFT_SHARED_TOKEN is false.
 */
export function sharedTokenLinkFor(config: Config): SharedTokenLink | undefined {
  return config.STORAGE_SWIFT_SHARED_TOKEN ? new SharedTokenLink() : undefined;
}

/** Attaches the database's shared token cache to the link (storage was opened first); returns the detach. */
export function shareStorageTokens(link: SharedTokenLink | undefined, database: Database, log: SharedTokenLog): () => void {
  if (link === undefined) return () => undefined;
  link.attach(new KyselySharedTokenCache(database), log);
  return () => link.detach();
}

/** The placement-aware store over the locations (src/storage/distributed.ts), its placements in `database`. */
export function placementAwareStore(
  locations: readonly StorageLocation[],
  database: Database,
  options: { log: DistributedStoreLog; observer?: DistributedStoreObserver },
): DistributedBlobStore {
  return new DistributedBlobStore({ locations, placements: new KyselyPlacementIndex(database, Date.now), ...options });
}

/** openStorageLocations, then placementAwareStore: for commands that connect the database first (gc). */
export async function openDistributedStorage(checked: CheckedConfig, database: Database, log: DistributedStoreLog): Promise<DistributedBlobStore> {
  const link = sharedTokenLinkFor(checked.config);
  // The database is open already, so the stores share the fleet's token from their first call.
  shareStorageTokens(link, database, { warn: (line) => process.stderr.write(`warning: ${line}\n`), info: () => undefined });
  return placementAwareStore(await openStorageLocations(checked, link), database, { log });
}

/** The first line of an error's message; a connection refused on every address of a host name (an AggregateError
 * whose own message is empty) is described by its parts. */
export function firstLine(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  if (message === '' && error instanceof AggregateError) message = error.errors.map((part) => firstLine(part)).join('; ');
  if (message === '' && error instanceof Error) message = (error as NodeJS.ErrnoException).code ?? error.name;
  return message.split('\n')[0] ?? message;
}
