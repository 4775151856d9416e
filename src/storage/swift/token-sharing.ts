import type { SharedTokenCache } from '../../db/swift-tokens.js';
import type { SharedTokenLink } from '../shared-token-link.js';
import type { SwiftSession } from './auth.js';
import { TokenSeal, type SealParams } from './token-seal.js';

/**
 * One store's view of the fleet's shared token (docs/storage-swift.md): load, publish and drop its
 * credentials' token in the cache attached to the link, sealed (token-seal.ts). Nothing here ever fails a
 * Swift call: with no cache attached, or while the cache does not answer (the database is down or slow), every
 * operation reports "unavailable" and the authenticator keeps its token in memory, as without sharing. An
 * outage is logged once when it starts and once when it ends; during it the cache is left alone for a while
 * so that each call does not wait for a timeout again.
 */

export type SharedLookup = { state: 'found'; session: SwiftSession } | { state: 'none' } | { state: 'unavailable' };

/** A cache call that has not answered by then has failed (a Swift call must not wait for a dying database). */
const CACHE_TIMEOUT_MS = 2_000;
/** After a failure the cache is not asked again for this long. */
const OUTAGE_BACKOFF_MS = 10_000;

export class TokenSharing {
  private seal: Promise<TokenSeal> | undefined;
  private outage = false;
  private skipUntil = 0;

  constructor(
    private readonly params: SealParams,
    private readonly link: SharedTokenLink,
    /** For log lines: the location and container. */
    private readonly label: string,
    private readonly now: () => number,
  ) {}

  /** True while a cache is attached (it may still be down). */
  attached(): boolean {
    return this.link.current() !== undefined;
  }

  /** The shared token, unless it expires before `usableUntil`; 'none' also when it was sealed under other credentials. */
  async load(usableUntil: number): Promise<SharedLookup> {
    const outcome = await this.guarded(async (cache, seal) => {
      const record = await cache.get(seal.key, usableUntil);
      const session = record === undefined ? undefined : seal.open(record);
      if (session === undefined || (session.expiresAt !== undefined && session.expiresAt <= usableUntil)) return { state: 'none' } as const;
      return { state: 'found', session } as const;
    });
    return outcome ?? { state: 'unavailable' };
  }

  /** Writes `session` as the fleet's token (the last writer wins); false when the cache did not take it. */
  async publish(session: SwiftSession): Promise<boolean> {
    return (await this.guarded(async (cache, seal) => {
      await cache.put(seal.key, seal.seal(session));
      return true;
    })) ?? false;
  }

  /** Deletes the shared token if it is still `token` (Swift refused it); a newer one is kept. */
  async drop(token: string): Promise<void> {
    await this.guarded((cache, seal) => cache.drop(seal.key, seal.fingerprint(token)));
  }

  /** Runs `work` against the attached cache; undefined when none is attached, or it failed or timed out. */
  private async guarded<T>(work: (cache: SharedTokenCache, seal: TokenSeal) => Promise<T>): Promise<T | undefined> {
    const attached = this.link.current();
    if (attached === undefined || this.now() < this.skipUntil) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      this.seal ??= TokenSeal.derive(this.params);
      const seal = await this.seal;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CACHE_TIMEOUT_MS / 1000} s`)), CACHE_TIMEOUT_MS);
        timer.unref();
      });
      const result = await Promise.race([work(attached.cache, seal), timeout]);
      if (this.outage) {
        this.outage = false;
        attached.log.info(`${this.label}: the shared Swift token cache answers again; tokens are shared with the fleet again`);
      }
      return result;
    } catch (error) {
      this.skipUntil = this.now() + OUTAGE_BACKOFF_MS;
      if (!this.outage) {
        this.outage = true;
        const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
        attached.log.warn(`${this.label}: the shared Swift token cache does not answer (${reason}); this process uses its own token until it does`);
      }
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
