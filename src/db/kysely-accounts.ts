import type { AccountMetadata } from './account-metadata.js';
import { KyselyAccountStore } from './accounts.js';
import { KyselyAppTokenStore } from './app-tokens.js';
import { KyselyAuditStore } from './audit.js';
import type { Database } from './database.js';
import { KyselyNamespaceLocationStore } from './namespace-locations.js';
import { KyselyPermissionStore } from './permissions.js';
import { KyselyServiceKeyStore } from './service-keys.js';
import { KyselySessionStore } from './sessions.js';
import { KyselyTeamStore } from './teams.js';
import { KyselyThrottleStore } from './throttle.js';

export interface AccountMetadataOptions {
  /** Milliseconds since the epoch; tests inject a clock to make creation times deterministic. */
  now?: () => number;
}

/** The AccountMetadata contract on a migrated database (see migrateToLatest); it shares the database's pool. */
export function createAccountMetadata(database: Database, options: AccountMetadataOptions = {}): AccountMetadata {
  const now = options.now ?? Date.now;
  return {
    accounts: new KyselyAccountStore(database, now),
    teams: new KyselyTeamStore(database, now),
    permissions: new KyselyPermissionStore(database, now),
    appTokens: new KyselyAppTokenStore(database, now),
    serviceKeys: new KyselyServiceKeyStore(database),
    audit: new KyselyAuditStore(database),
    throttle: new KyselyThrottleStore(database),
    sessions: new KyselySessionStore(database, now),
    namespaceLocations: new KyselyNamespaceLocationStore(database, now),
  };
}
