import type { Database } from './database.js';
import type { Page, RepositoryRecord, RepositoryStore } from './metadata.js';
import { ignoreDuplicate, retryOnDeadlock, toDate } from './query-helpers.js';

/** The first path component of a repository name ("acme/tools/app" -> "acme"); empty for "app". */
export function namespaceOf(name: string): string {
  const slash = name.indexOf('/');
  return slash < 0 ? '' : name.slice(0, slash);
}

/** RepositoryStore on the repository table. */
export class KyselyRepositoryStore implements RepositoryStore {
  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {}

  async getRepository(name: string): Promise<RepositoryRecord | undefined> {
    const row = await this.database.db
      .selectFrom('repository')
      .select(['id', 'name', 'namespace', 'visibility', 'created_at'])
      .where('name', '=', name)
      .executeTakeFirst();
    return row && {
      id: row.id,
      name: row.name,
      namespace: row.namespace,
      visibility: row.visibility,
      createdAt: toDate(row.created_at),
    };
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

  async listRepositories(page: Page): Promise<string[]> {
    let query = this.database.db.selectFrom('repository').select('name').orderBy('name').limit(page.limit);
    if (page.last !== undefined) query = query.where('name', '>', page.last);
    const rows = await query.execute();
    return rows.map((r) => r.name);
  }
}
