/**
 * The in-process half of the cache: entries grouped (one group per repository, one for all repository
 * lookups) so that a write drops exactly what it may have changed. Each group has a generation: a value read
 * from the database is stored only if its group was not invalidated while the read was in flight, so a
 * lookup that raced a write never caches the old answer.
 */

interface Entry {
  value: unknown;
  expiresAt: number;
  group: string;
}

export interface LocalCacheOptions {
  maxEntries: number;
  now?: () => number;
}

export class LocalCache {
  private readonly entries = new Map<string, Entry>();
  private readonly generations = new Map<string, number>();
  private epoch = 0;
  private readonly now: () => number;

  constructor(private readonly options: LocalCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The entry under `key`, or undefined when absent or expired. */
  get(key: string): { value: unknown } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return { value: entry.value };
  }

  /** A token to pass to set(): the group's generation when the database read starts. */
  ticket(group: string): string {
    return `${this.epoch}:${this.generations.get(group) ?? 0}`;
  }

  /** Stores `value` unless its group was invalidated since `ticket` was taken. */
  set(key: string, group: string, value: unknown, ttlMs: number, ticket: string): void {
    if (ticket !== this.ticket(group) || ttlMs <= 0) return;
    if (this.entries.size >= this.options.maxEntries) {
      // Maps iterate in insertion order: the oldest tenth goes (cheap, and good enough for hot keys that come back).
      let drop = Math.ceil(this.options.maxEntries / 10);
      for (const oldest of this.entries.keys()) {
        this.entries.delete(oldest);
        if (--drop === 0) break;
      }
    }
    this.entries.set(key, { value, group, expiresAt: this.now() + ttlMs });
  }

  /** Drops every entry of `group` and fails the tickets taken before. */
  invalidate(group: string): void {
    this.generations.set(group, (this.generations.get(group) ?? 0) + 1);
    for (const [key, entry] of this.entries) {
      if (entry.group === group) this.entries.delete(key);
    }
  }

  /** Drops everything (Redis reconnected: invalidations may have been missed) and fails every ticket. */
  clear(): void {
    this.epoch += 1;
    this.generations.clear();
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
