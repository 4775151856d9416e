import { sql } from 'kysely';
import type { Database } from './database.js';
import { KyselyBlobIndex } from './blobs.js';
import { KyselyGarbageIndex } from './garbage.js';
import { KyselyManifestIndex } from './manifests.js';
import type { Metadata } from './metadata.js';
import { KyselyRepositoryStore } from './repositories.js';
import { KyselyTagIndex } from './tags.js';
import { KyselyUploadIndex } from './uploads.js';

export interface MetadataOptions {
  /** Milliseconds since the epoch; tests inject a clock to make times and staleness deterministic. */
  now?: () => number;
}

/** The Metadata contract on a migrated database (see migrateToLatest); close() closes the database too. */
export function createMetadata(database: Database, options: MetadataOptions = {}): Metadata {
  const now = options.now ?? Date.now;
  return {
    repositories: new KyselyRepositoryStore(database, now),
    blobs: new KyselyBlobIndex(database, now),
    uploads: new KyselyUploadIndex(database, now),
    manifests: new KyselyManifestIndex(database, now),
    tags: new KyselyTagIndex(database, now),
    garbage: new KyselyGarbageIndex(database),
    ping: async () => {
      await sql`select 1`.execute(database.db);
    },
    close: () => database.close(),
  };
}
