import path from 'node:path';
import { loadConfigFile, defaultConfig, ConfigError, type LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { openDatabase, type Database } from '../db/database.js';
import { migrateToLatest, pendingMigrations } from '../db/migrate.js';
import type { ConnectionLog } from '../db/pool-bounds.js';
import { createBlobStore } from '../storage/factory.js';
import type { BlobStore } from '../storage/blob-store.js';
import { CliError } from './cli-error.js';

/** The data directory: flag, then QUAYSIDE_DATA_DIR, then ./quayside-data. */
export function resolveDataDir(flag: string | undefined): string {
  return path.resolve(flag ?? process.env.QUAYSIDE_DATA_DIR ?? 'quayside-data');
}

/**
 * The effective configuration: the file's keys when --config is given (or QUAYSIDE_CONFIG), with the
 * embedded defaults filling what the file leaves out (no DB_URI: SQLite in the data dir; no storage:
 * the local filesystem in the data dir). Warnings (unknown or unused keys) go to stderr, one per line.
 */
export async function resolveConfig(configPath: string | undefined, dataDir: string): Promise<Config> {
  const defaults = defaultConfig(dataDir);
  const file = configPath ?? process.env.QUAYSIDE_CONFIG;
  if (!file) return defaults;
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfigFile(path.resolve(file));
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message);
    throw error;
  }
  for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
  const config = { ...loaded.config };
  if (!config.DB_URI) config.DB_URI = defaults.DB_URI;
  if (!config.DISTRIBUTED_STORAGE_CONFIG || Object.keys(config.DISTRIBUTED_STORAGE_CONFIG).length === 0) {
    config.DISTRIBUTED_STORAGE_CONFIG = defaults.DISTRIBUTED_STORAGE_CONFIG;
    config.DISTRIBUTED_STORAGE_PREFERENCE = defaults.DISTRIBUTED_STORAGE_PREFERENCE;
  }
  return config;
}

/** Opens the configured database, turning configuration problems into one CLI line; `log` gets lost connections. */
export async function openConfiguredDatabase(config: Config, log?: ConnectionLog): Promise<Database> {
  if (!config.DB_URI) throw new CliError('config: DB_URI is not set');
  try {
    return await openDatabase({ uri: config.DB_URI, connectionArgs: config.DB_CONNECTION_ARGS, log });
  } catch (error) {
    throw new CliError(`database: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Applies pending migrations, or refuses to go on when told not to migrate and some are pending. */
export async function ensureSchema(database: Database, migrate: boolean, log: (line: string) => void): Promise<void> {
  if (migrate) {
    const applied = await migrateToLatest(database, log);
    if (applied.length > 0) log(`database: applied ${applied.length} migration(s)`);
    return;
  }
  const pending = await pendingMigrations(database);
  if (pending.length > 0) {
    throw new CliError(`database: ${pending.length} migration(s) pending (${pending.join(', ')}); run quayside db migrate`);
  }
}

/** The blob store of the first preferred storage location (geo-replication comes with object storage). */
export function openPreferredStorage(config: Config): { location: string; store: BlobStore } {
  const locations = config.DISTRIBUTED_STORAGE_CONFIG ?? {};
  const location = config.DISTRIBUTED_STORAGE_PREFERENCE?.[0] ?? Object.keys(locations)[0];
  if (!location || !locations[location]) throw new CliError('config: DISTRIBUTED_STORAGE_CONFIG has no storage location');
  try {
    return { location, store: createBlobStore(locations[location]) };
  } catch (error) {
    throw new CliError(`storage location ${location}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
