import type { SharedTokenLink } from '../shared-token-link.js';
import type { SwiftSession } from './auth.js';
import { TokenSeal, type SealParams } from './token-seal.js';

/**
 * One store's view of the fleet's shared token (docs/storage-swift.md): load, publish and drop its
 * credentials' token in the cache attached to the link, sealed (token-seal.ts). Nothing here ever fails a
 * Swift call: with no cache attached, or while the cache does not answer (the link times it out, logs the
 * outage once and backs off), every operation reports "unavailable" and the authenticator keeps its token in
 * memory, as without sharing.
 */

export type SharedLookup = { state: 'found'; session: SwiftSession } | { state: 'none' } | { state: 'unavailable' };

export class TokenSharing {
  private seal: Promise<TokenSeal | undefined> | undefined;

  constructor(
    private readonly params: SealParams,
    private readonly link: SharedTokenLink,
  ) {}

  /** True while a cache is attached (it may still be down). */
  attached(): boolean {
    return this.link.isAttached();
  }

  /** The shared token, unless it expires before `usableUntil`; 'none' also when it was sealed under other credentials. */
  async load(usableUntil: number): Promise<SharedLookup> {
    const seal = await this.sealer();
    if (seal === undefined) return { state: 'unavailable' };
    const outcome = await this.link.use(async (cache) => {
      const record = await cache.get(seal.key, usableUntil);
      const session = record === undefined ? undefined : seal.open(record);
      if (session === undefined || (session.expiresAt !== undefined && session.expiresAt <= usableUntil)) return { state: 'none' } as const;
      return { state: 'found', session } as const;
    });
    return outcome ?? { state: 'unavailable' };
  }

  /** Writes `session` as the fleet's token (the last writer wins); false when the cache did not take it. */
  async publish(session: SwiftSession): Promise<boolean> {
    const seal = await this.sealer();
    if (seal === undefined) return false;
    const written = await this.link.use(async (cache) => {
      await cache.put(seal.key, seal.seal(session));
      return true;
    });
    return written ?? false;
  }

  /** Deletes the shared token if it is still `token` (Swift refused it); a newer one is kept. */
  async drop(token: string): Promise<void> {
    const seal = await this.sealer();
    if (seal !== undefined) await this.link.use((cache) => cache.drop(seal.key, seal.fingerprint(token)));
  }

  /**
   * The keys of these credentials, derived once, on the first use while a cache is attached (a store that never
   * shares never pays scrypt), and outside the link's timeout (deriving is not the database being slow).
   * undefined while no cache is attached.
   */
  private async sealer(): Promise<TokenSeal | undefined> {
    if (!this.link.isAttached()) return undefined;
    // Deriving cannot fail with valid parameters; should it, this store simply does not share.
    this.seal ??= TokenSeal.derive(this.params).catch(() => undefined);
    return this.seal;
  }
}
