import type { Database } from './database.js';
import { isForeignKeyViolation, isUniqueViolation } from './write-transaction.js';

/**
 * A namespace's own storage locations (Quay's UserRegion, table user_region; docs/geo-replication.md): a blob
 * pushed into the namespace must be in DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS plus these. Locations are names of
 * DISTRIBUTED_STORAGE_CONFIG; the callers check them against the configuration, the store does not know it.
 */
export interface NamespaceLocationStore {
  /** The locations the user or organization lists, by name. */
  list(accountId: number): Promise<string[]>;
  /** The locations the namespace of that name lists (none for an unknown name): what a push into it must reach. */
  forNamespace(namespace: string): Promise<string[]>;
  /**
   * Adds a location to the namespace; false when it was listed already (idempotent). Throws NamespaceGoneError
   * when the account was deleted since the caller looked it up.
   */
  add(accountId: number, location: string): Promise<boolean>;
  /** Removes a location from the namespace; false when it was not listed. Touches no placement or copy. */
  remove(accountId: number, location: string): Promise<boolean>;
  /** Every location at least one namespace lists (what a backfill must look at beyond the default ones). */
  listedLocations(): Promise<string[]>;
  /** The names of the namespaces that list `location`. */
  namespacesListing(location: string): Promise<string[]>;
}

/** The account a location was being added to was deleted before the row went in. */
export class NamespaceGoneError extends Error {
  constructor(readonly accountId: number) {
    super(`account ${accountId} no longer exists`);
    this.name = 'NamespaceGoneError';
  }
}

/** NamespaceLocationStore on user_region. */
export class KyselyNamespaceLocationStore implements NamespaceLocationStore {
  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {}

  async list(accountId: number): Promise<string[]> {
    const rows = await this.database.db.selectFrom('user_region').select('location').where('account_id', '=', accountId).orderBy('location').execute();
    return rows.map((row) => row.location);
  }

  async forNamespace(namespace: string): Promise<string[]> {
    const rows = await this.database.db
      .selectFrom('user_region as ur')
      .innerJoin('account as a', 'a.id', 'ur.account_id')
      .select('ur.location')
      .where('a.name', '=', namespace)
      .orderBy('ur.location')
      .execute();
    return rows.map((row) => row.location);
  }

  async add(accountId: number, location: string): Promise<boolean> {
    // A plain insert whose duplicate is caught: it tells "added" from "already there" on every dialect
    // (MySQL's ON DUPLICATE KEY UPDATE reports a row for both, see repositories.ts).
    try {
      await this.database.db.insertInto('user_region').values({ account_id: accountId, location, created_at: this.now() }).execute();
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      if (isForeignKeyViolation(error)) throw new NamespaceGoneError(accountId);
      throw error;
    }
  }

  async remove(accountId: number, location: string): Promise<boolean> {
    const result = await this.database.db.deleteFrom('user_region').where('account_id', '=', accountId).where('location', '=', location).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async listedLocations(): Promise<string[]> {
    const rows = await this.database.db.selectFrom('user_region').select('location').distinct().orderBy('location').execute();
    return rows.map((row) => row.location);
  }

  async namespacesListing(location: string): Promise<string[]> {
    const rows = await this.database.db
      .selectFrom('user_region as ur')
      .innerJoin('account as a', 'a.id', 'ur.account_id')
      .select('a.name')
      .where('ur.location', '=', location)
      .orderBy('a.name')
      .execute();
    return rows.map((row) => row.name);
  }
}
