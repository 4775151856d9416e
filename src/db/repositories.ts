import type { Database } from './database.js';
import type { Page, RepositoryRecord, RepositoryStore } from './metadata.js';
import { preparedQuery } from './prepared-query.js';
import { ignoreDuplicate, retryOnDeadlock, toDate } from './query-helpers.js';
import { isUniqueViolation } from './write-transaction.js';

const COLUMNS = ['id', 'name', 'namespace', 'visibility', 'description', 'created_at'] as const;

type RepositoryRow = {
  id: number;
  name: string;
  namespace: string;
  visibility: 'public' | 'private';
  description: string | null;
  created_at: number | string;
};

function toRecord(row: RepositoryRow): RepositoryRecord {
  return {
    id: row.id,
    name: row.name,
    namespace: row.namespace,
    visibility: row.visibility,
    description: row.description,
    createdAt: toDate(row.created_at),
  };
}

/** The first path component of a repository name ("acme/tools/app" -> "acme"); empty for "app". */
export function namespaceOf(name: string): string {
  const slash = name.indexOf('/');
  return slash < 0 ? '' : name.slice(0, slash);
}

/** RepositoryStore on the repository table. */
export class KyselyRepositoryStore implements RepositoryStore {
  /** Every /v2 request of a repository starts here (uncached without Redis): compiled once. */
  private readonly byName;

  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {
    this.byName = preparedQuery(database.db, (name: string) => database.db.selectFrom('repository').select(COLUMNS).where('name', '=', name), ['\0name']);
  }

  async getRepository(name: string): Promise<RepositoryRecord | undefined> {
    const [row] = await this.byName(name);
    return row && toRecord(row);
  }

  async getRepositoryById(id: number): Promise<RepositoryRecord | undefined> {
    const row = await this.database.db.selectFrom('repository').select(COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  async ensureRepository(name: string): Promise<RepositoryRecord> {
    const existing = await this.getRepository(name);
    if (existing) return existing;
    // Concurrent creators race on the unique name; the loser's insert is a no-op and both read the winner's row.
    await retryOnDeadlock(() =>
      ignoreDuplicate(
        this.database,
        this.database.db.insertInto('repository').values({
          name,
          namespace: namespaceOf(name),
          visibility: 'private',
          created_at: this.now(),
        }),
        'name',
      ).execute(),
    );
    const created = await this.getRepository(name);
    if (!created) throw new Error(`repository ${name} vanished right after it was created`);
    return created;
  }

  async createRepository(
    name: string,
    visibility: 'public' | 'private',
  ): Promise<{ repository: RepositoryRecord; created: boolean }> {
    const existing = await this.getRepository(name);
    if (existing) return { repository: existing, created: false };
    const created = await retryOnDeadlock(() => this.insertIfMissing(name, visibility));
    const repository = await this.getRepository(name);
    if (!repository) throw new Error(`repository ${name} vanished right after it was created`);
    return { repository, created };
  }

  async setVisibility(id: number, visibility: 'public' | 'private'): Promise<void> {
    await this.database.db.updateTable('repository').set({ visibility }).where('id', '=', id).execute();
  }

  async setDescription(id: number, description: string | null): Promise<void> {
    await this.database.db.updateTable('repository').set({ description }).where('id', '=', id).execute();
  }

  async deleteRepository(id: number): Promise<boolean> {
    // Blob links, uploads, manifests (and their references), tags and permissions go by ON DELETE CASCADE.
    const result = await retryOnDeadlock(() =>
      this.database.db.deleteFrom('repository').where('id', '=', id).executeTakeFirst(),
    );
    return result.numDeletedRows > 0n;
  }

  async countRepositories(namespace: string): Promise<number> {
    const row = await this.database.db
      .selectFrom('repository')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('namespace', '=', namespace)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async listRepositories(page: Page): Promise<string[]> {
    let query = this.database.db.selectFrom('repository').select('name').orderBy('name').limit(page.limit);
    if (page.last !== undefined) query = query.where('name', '>', page.last);
    const rows = await query.execute();
    return rows.map((r) => r.name);
  }

  /** Inserts the row unless the name exists; true only when this call's insert made it. */
  private async insertIfMissing(name: string, visibility: 'public' | 'private'): Promise<boolean> {
    const insert = this.database.db
      .insertInto('repository')
      .values({ name, namespace: namespaceOf(name), visibility, created_at: this.now() });
    if (this.database.dialect !== 'mysql') {
      const result = await ignoreDuplicate(this.database, insert, 'name').executeTakeFirst();
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    }
    // mysql2 connects with CLIENT_FOUND_ROWS, so ON DUPLICATE KEY UPDATE reports 1 affected row for the
    // no-op as well as for the insert; a plain insert whose duplicate is caught tells the two apart.
    try {
      await insert.execute();
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }
}
