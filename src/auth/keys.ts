import { createPublicKey, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import type { ServiceKeyStore } from '../db/account-metadata.js';

/**
 * This instance's token signing keys (Quay's instance service keys). Each instance makes its own RSA key,
 * publishes the public half in the shared database with an expiry, and makes a new one every refresh
 * period; every instance verifies a token by looking up the public key its `kid` names. Old keys stay
 * valid until they expire, so tokens signed before a rotation (or by an instance that has since stopped)
 * keep working for their lifetime. No private key is ever stored.
 */

const generateRsaKeyPair = promisify(generateKeyPair);

/** How long an unknown kid is remembered as unknown, so forged kids do not cost a query each. */
export const UNKNOWN_KID_CACHE_MS = 5_000;
/** After a failed rotation, how soon to try again. */
const ROTATION_RETRY_MS = 30_000;
/** Bound on remembered unknown kids. */
const MAX_NEGATIVE_ENTRIES = 10_000;
/** How long after its expiry a public key stays cached (to tell an expired key from an unknown one). */
const EXPIRED_KEY_RETENTION_MS = 60 * 60 * 1000;

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  expiresAt: Date;
}

export interface PublicKeyEntry {
  key: KeyObject;
  expiresAt: Date;
}

/** Where the key ring reports rotation failures and new keys. */
export interface KeyRingLog {
  info(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

export interface KeyRingOptions {
  /** How long a published key is accepted, seconds. */
  keyExpirationS: number;
  /** How often a new key is made, seconds. */
  keyRefreshS: number;
  log: KeyRingLog;
  now?: () => number;
}

/** The current signing key of this instance, and public-key lookups for verification. */
export class KeyRing {
  private currentKey: SigningKey | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private rotating: Promise<void> | undefined;
  private readonly known = new Map<string, PublicKeyEntry>();
  private readonly unknown = new Map<string, number>();
  private readonly now: () => number;
  private readonly createdBy = `${hostname()}:${process.pid}`.slice(0, 255);

  constructor(
    private readonly store: ServiceKeyStore,
    private readonly options: KeyRingOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Makes and publishes the first key (rejects when it cannot), then rotates every keyRefreshS. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.rotate();
    this.schedule(this.options.keyRefreshS * 1000);
  }

  /** Stops rotating; the published keys stay valid until they expire. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.rotating?.catch(() => undefined);
  }

  /**
   * The key to sign with now. Throws when there is none (start() not called or failed) or when it expired
   * because rotations kept failing: a token signed with it would be refused everywhere.
   */
  current(): SigningKey {
    const key = this.currentKey;
    if (key === undefined) throw new Error('no token signing key yet (the key ring has not started)');
    if (key.expiresAt.getTime() <= this.now()) throw new Error('the token signing key expired and no new one could be published');
    return key;
  }

  /** Makes a new key, publishes it, switches to it, and deletes expired keys. Rejects when publishing fails. */
  rotate(): Promise<void> {
    // Concurrent callers (the timer and a test) share one rotation.
    this.rotating ??= this.makeKey().finally(() => {
      this.rotating = undefined;
    });
    return this.rotating;
  }

  private async makeKey(): Promise<void> {
    const { privateKey, publicKey } = await generateRsaKeyPair('rsa', { modulusLength: 2048 });
    const now = this.now();
    const kid = randomBytes(16).toString('base64url');
    const expiresAt = new Date(now + this.options.keyExpirationS * 1000);
    const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await this.store.publish({ kid, publicKeyPem, createdBy: this.createdBy, createdAt: new Date(now), expiresAt });
    this.currentKey = { kid, privateKey, expiresAt };
    this.known.set(kid, { key: publicKey, expiresAt });
    this.options.log.info({ kid, expiresAt: expiresAt.toISOString() }, 'token signing key published');
    try {
      await this.store.deleteExpired(new Date(now));
    } catch (error) {
      this.options.log.error({ err: error }, 'could not delete expired token signing keys');
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    // One timer at a time, even if start() is called twice.
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.rotate().then(
        () => this.schedule(this.options.keyRefreshS * 1000),
        (error: unknown) => {
          // Keep signing with the current key (it is valid until it expires) and retry soon.
          this.options.log.error({ err: error }, 'could not publish a new token signing key; will retry');
          this.schedule(Math.min(ROTATION_RETRY_MS, this.options.keyRefreshS * 1000));
        },
      );
    }, delayMs);
    this.timer.unref();
  }

  /**
   * The public key a token's kid names (with its expiry, which the caller checks), from any instance;
   * undefined for an unknown kid. Found keys are cached until shortly after they expire, unknown kids
   * for UNKNOWN_KID_CACHE_MS. Rejects when the database cannot answer.
   */
  async publicKey(kid: string): Promise<PublicKeyEntry | undefined> {
    const now = this.now();
    const cached = this.known.get(kid);
    if (cached !== undefined) {
      if (cached.expiresAt.getTime() + EXPIRED_KEY_RETENTION_MS > now) return cached;
      this.known.delete(kid);
    }
    const unknownUntil = this.unknown.get(kid);
    if (unknownUntil !== undefined) {
      if (unknownUntil > now) return undefined;
      this.unknown.delete(kid);
    }
    const record = await this.store.get(kid);
    if (record === undefined) {
      if (this.unknown.size >= MAX_NEGATIVE_ENTRIES) this.unknown.clear();
      this.unknown.set(kid, now + UNKNOWN_KID_CACHE_MS);
      return undefined;
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: record.publicKeyPem, format: 'pem' });
    } catch {
      // A corrupt row verifies nothing; treat it as unknown rather than failing every request.
      this.unknown.set(kid, now + UNKNOWN_KID_CACHE_MS);
      return undefined;
    }
    const entry = { key, expiresAt: record.expiresAt };
    this.pruneKnown(now);
    this.known.set(kid, entry);
    return entry;
  }

  private pruneKnown(now: number): void {
    for (const [kid, entry] of this.known) {
      if (entry.expiresAt.getTime() + EXPIRED_KEY_RETENTION_MS <= now) this.known.delete(kid);
    }
  }
}
