import type { SharedTokenCache } from '../db/swift-tokens.js';

/**
 * Where a storage driver finds the fleet's shared auth-token cache (docs/storage-swift.md). `serve` builds
 * and checks its stores before it opens the database, so the cache cannot be a constructor argument: the
 * composition root hands every store the same link, then attaches the database-backed cache once the database
 * is open (and detaches it before closing the database). A store whose link is empty, or that has none
 * (`quayside storage validate`, tests), keeps its token in memory only.
 */

/** How the sharing reports that the cache stopped (and started again) answering. */
export interface SharedTokenLog {
  warn(line: string): void;
  info(line: string): void;
}

export interface AttachedTokenCache {
  readonly cache: SharedTokenCache;
  readonly log: SharedTokenLog;
}

export class SharedTokenLink {
  private attached: AttachedTokenCache | undefined;

  /** From now on the stores holding this link share their tokens through `cache`. */
  attach(cache: SharedTokenCache, log: SharedTokenLog): void {
    this.attached = { cache, log };
  }

  /** Back to in-memory tokens (the database is about to close). */
  detach(): void {
    this.attached = undefined;
  }

  /** The cache, when one is attached. */
  current(): AttachedTokenCache | undefined {
    return this.attached;
  }
}
