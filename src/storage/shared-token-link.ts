import type { SharedTokenCache } from '../db/swift-tokens.js';

/**
 * Where a storage driver finds the fleet's shared auth-token cache (docs/storage-swift.md). `serve` builds
 * and checks its stores before it opens the database, so the cache cannot be a constructor argument: the
 * composition root hands every store of the process the same link, then attaches the database-backed cache
 * once the database is open (and detaches it before closing the database). A store whose link is empty, or
 * that has none (`quayside storage validate`, tests), keeps its token in memory only.
 *
 * The link is also where the cache's failures stop: a call that fails or does not answer within
 * CACHE_TIMEOUT_MS is an outage, logged once for the process (not once per store or per call) when it starts
 * and once when the cache answers again, and for OUTAGE_BACKOFF_MS after each failure the cache is not asked
 * at all, so that Swift calls do not wait on a database that is down.
 */

/** How the sharing reports that the cache stopped (and started again) answering. */
export interface SharedTokenLog {
  warn(line: string): void;
  info(line: string): void;
}

/** A cache call that has not answered by then has failed (a Swift call must not wait for a dying database). */
const CACHE_TIMEOUT_MS = 2_000;
/** After a failure the cache is not asked again for this long. */
const OUTAGE_BACKOFF_MS = 10_000;

export class SharedTokenLink {
  private attached: { cache: SharedTokenCache; log: SharedTokenLog } | undefined;
  private outage = false;
  private skipUntil = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** From now on the stores holding this link share their tokens through `cache`. */
  attach(cache: SharedTokenCache, log: SharedTokenLog): void {
    this.attached = { cache, log };
  }

  /** Back to in-memory tokens (the database is about to close). */
  detach(): void {
    this.attached = undefined;
  }

  /** True while a cache is attached (it may still be down). */
  isAttached(): boolean {
    return this.attached !== undefined;
  }

  /** Runs `work` against the cache; undefined when none is attached, during a backoff, or when it failed or timed out. Never rejects. */
  async use<T>(work: (cache: SharedTokenCache) => Promise<T>): Promise<T | undefined> {
    const attached = this.attached;
    if (attached === undefined || this.now() < this.skipUntil) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CACHE_TIMEOUT_MS / 1000} s`)), CACHE_TIMEOUT_MS);
        timer.unref();
      });
      const result = await Promise.race([work(attached.cache), timeout]);
      if (this.outage) {
        this.outage = false;
        attached.log.info('the shared storage token cache answers again: SwiftStorage shares its token with the fleet again');
      }
      return result;
    } catch (error) {
      this.skipUntil = this.now() + OUTAGE_BACKOFF_MS;
      if (!this.outage) {
        this.outage = true;
        const reason = error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error);
        attached.log.warn(`the shared storage token cache does not answer (${reason}): SwiftStorage uses this process's own token until it does`);
      }
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
