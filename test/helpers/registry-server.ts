// A real Quayside HTTP server for API tests: createApp on 127.0.0.1, a free port, real metadata (SQLite in a
// temp dir by default, or a fresh PostgreSQL/MariaDB database) and LocalBlobStore in a temp dir.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { openDatabase, type Database, type Dialect } from '../../src/db/database.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import type { Metadata } from '../../src/db/metadata.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { AccountMetadata } from '../../src/db/account-metadata.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { buildAuthServices } from '../../src/auth/auth-services.js';
import { defaultAuthOptions, type AuthOptions } from '../../src/auth/options.js';
import type { AuthServices } from '../../src/auth/services.js';
import type { RegistryOptions } from '../../src/registry/context.js';
import { createApp, type AppDeps } from '../../src/server/create-app.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { freshDatabase } from './databases.js';
import { openAccess } from './open-access.js';

export interface TestRegistry {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:40123. */
  url: string;
  app: FastifyInstance;
  metadata: Metadata;
  accounts: AccountMetadata;
  auth: AuthServices;
  blobs: BlobStore;
  close(): Promise<void>;
}

export interface TestRegistryOptions {
  /** Metadata database; SQLite in a temp dir unless told otherwise. */
  dialect?: Dialect;
  /** Overrides of the /v2 options (defaults: 4 MiB manifests, referrers on). */
  registry?: Partial<RegistryOptions>;
  /** Logger for the app (default: silent). */
  logger?: AppDeps['logger'];
  /** Health probe timeout. */
  healthTimeoutMs?: number;
  /** HEALTH_CHECKER's /health/instance policy (src/health/rds-health.ts). */
  healthPolicy?: AppDeps['healthPolicy'];
  /** Replace the blob store (e.g. to make its health probe fail); default LocalBlobStore in a temp dir. */
  blobs?: BlobStore;
  /** Wrap the metadata before the app sees it (e.g. to make ping hang). */
  wrapMetadata?: (metadata: Metadata) => Metadata;
  /**
   * 'open' (default): /v2 lets every request through (tests of OCI behaviour); 'tokens': the real token auth,
   * as `quayside serve` runs it.
   */
  access?: 'open' | 'tokens';
  /** Auth settings for 'tokens' (and for /v2/auth and /api/v1, which always use the real services). */
  authOptions?: Partial<AuthOptions>;
  /** A Redis connection for /health/endtoend to probe (src/redis/connection.ts). */
  redis?: AppDeps['redis'];
  /** Where the app registers its metrics. */
  metrics?: AppDeps['metrics'];
  /** The metadata's clock (tag expiry, the time machine); tokens and sessions keep the real one. */
  now?: () => number;
}

const pinoSilent = pino({ level: 'silent' });

export const DEFAULT_TEST_OPTIONS: RegistryOptions = {
  maxManifestBytes: 4 * 1024 * 1024,
  referrersApi: true,
  uploadExpiryMs: 24 * 60 * 60 * 1000,
};

async function openMetadataDatabase(dialect: Dialect, dir: string): Promise<{ database: Database; drop(): Promise<void> }> {
  if (dialect === 'sqlite') {
    const database = await openDatabase({ uri: `sqlite:///${join(dir, 'quayside.db')}` });
    await migrateToLatest(database);
    return { database, drop: () => database.close() };
  }
  const fresh = await freshDatabase(dialect);
  return { database: fresh.database, drop: () => fresh.drop() };
}

/**
 * The real auth services over a test database (not started: call start() before issuing tokens, stop() and
 * audit.close() when done). Audit rows are written every 20 ms so that tests see them quickly.
 */
export function testAuthServices(database: Database, metadata: Metadata, options: Partial<AuthOptions> = {}) {
  const accounts = createAccountMetadata(database);
  const audit = new AuditLog(accounts.audit, { error: () => undefined }, { flushIntervalMs: 20 });
  return buildAuthServices({ accounts, metadata, options: defaultAuthOptions(options), audit, log: pinoSilent });
}

/** Starts a registry listening on 127.0.0.1 on a free port; close() stops it and removes everything it made. */
export async function startTestRegistry(options: TestRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'quayside-registry-test-'));
  const { database, drop } = await openMetadataDatabase(options.dialect ?? 'sqlite', dir);
  const baseMetadata = createMetadata(database, { now: options.now });
  const metadata = options.wrapMetadata ? options.wrapMetadata(baseMetadata) : baseMetadata;
  const blobs = options.blobs ?? new LocalBlobStore(join(dir, 'storage'));
  const auth = testAuthServices(database, metadata, options.authOptions);
  if (options.now !== undefined) auth.now = options.now;
  const accounts = auth.accounts;
  await auth.start();
  const app = await createApp({
    metadata,
    blobs,
    options: { ...DEFAULT_TEST_OPTIONS, ...options.registry },
    auth,
    access: options.access === 'tokens' ? undefined : openAccess(metadata),
    logger: options.logger ?? false,
    healthTimeoutMs: options.healthTimeoutMs,
    healthPolicy: options.healthPolicy,
    redis: options.redis,
    metrics: options.metrics,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address !== 'object') throw new Error('test registry did not bind a TCP port');
  let closed = false;
  return {
    url: `http://127.0.0.1:${address.port}`,
    app,
    metadata: baseMetadata,
    accounts,
    auth,
    blobs,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await auth.stop();
      await auth.audit.close();
      // drop() closes the database (what metadata.close() would do) and, for servers, deletes it.
      await drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
