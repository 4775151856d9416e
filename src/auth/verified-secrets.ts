import { createHmac, randomBytes } from 'node:crypto';

/**
 * The (stored hash, secret) pairs this process has recently seen verify, so that a client presenting the same
 * right password again (docker asks for a token before nearly every push and pull) costs neither a bcrypt
 * check nor a throttle reservation. Only successes are remembered, under an HMAC with a key that never leaves
 * the process, so the map holds no secret and can answer nothing about a wrong one. The stored hash is part
 * of the entry: a changed password (a new hash, on any instance) simply misses, with nothing to invalidate.
 */
export class VerifiedSecrets {
  private readonly key = randomBytes(32);
  /** Entry -> when it was remembered; Map order is insertion order, which makes the oldest the first. */
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly ttlMs: number = 5 * 60_000,
    private readonly capacity: number = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  has(storedHash: string, secret: string): boolean {
    const entry = this.entryOf(storedHash, secret);
    const at = this.entries.get(entry);
    if (at === undefined) return false;
    if (this.now() - at >= this.ttlMs) {
      this.entries.delete(entry);
      return false;
    }
    return true;
  }

  remember(storedHash: string, secret: string): void {
    const entry = this.entryOf(storedHash, secret);
    this.entries.delete(entry);
    this.entries.set(entry, this.now());
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  /** A key naming one login attempt's credentials and client, holding no secret (for sharing one verdict). */
  flightKey(username: string, secret: string, clientAddress: string): string {
    return createHmac('sha256', this.key).update(username).update('\0').update(secret).update('\0').update(clientAddress).digest('base64');
  }

  private entryOf(storedHash: string, secret: string): string {
    return createHmac('sha256', this.key).update(storedHash).update('\0').update(secret).digest('base64');
  }
}
