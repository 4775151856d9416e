import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Long random secrets (robot tokens, app-specific tokens, session ids). They carry 384 bits of entropy,
 * so the database keeps only their SHA-256: a fast hash is enough when guessing is hopeless, and it lets
 * a login find the row by the hash of what the client sent.
 */

/** Random bytes per token: 48 bytes are 64 url-safe characters, the length of Quay's robot tokens. */
const TOKEN_BYTES = 48;

/** A new random token: 64 characters of [A-Za-z0-9_-]. */
export function newSecretToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** The hex SHA-256 of a token, as stored. */
export function hashSecret(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Compares two strings in time independent of where they differ. Both sides are hashed first so that
 * inputs of different lengths compare without revealing the expected length.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a, 'utf8').digest();
  const right = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(left, right) && a.length === b.length;
}
