import { createHash } from 'node:crypto';
import bcrypt from 'bcrypt';

/**
 * User passwords: rules and bcrypt hashing.
 *
 * bcrypt only reads the first 72 bytes of its input and stops at a NUL byte, so two long passwords that
 * share a 72-byte prefix would hash alike. We therefore hash bcrypt(base64(sha256(password))): the
 * 44-character base64 digest depends on every byte of the password, contains no NUL and fits bcrypt's
 * window, while bcrypt still supplies the salt and the slowness. (Hashes made by Quay, bcrypt over the
 * raw password, therefore do not verify here; users imported from Quay must set a new password.)
 */

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

/**
 * bcrypt work factor. The native `bcrypt` addon hashes on libuv's thread pool, so a check (about
 * 65 ms at cost 10 on our machines, as long as bcryptjs took on the main thread) never blocks the event loop:
 * other requests are served while logins hash. Its hashes are the standard `$2b$` format bcryptjs made
 * before, so stored ones keep verifying.
 */
export const BCRYPT_COST = 10;

/**
 * A valid hash of a random string nobody knows, verified when a login names an unknown user so that the
 * answer takes as long as a wrong password does (no user enumeration by timing).
 */
const DUMMY_HASH = '$2b$10$5zckQV8GqDecZzQ9EIDgKOGoMGlS8.h529mV.dFH5eRjvBxG3rnqS';

function prehash(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('base64');
}

/** undefined when the password is acceptable, else a one-line reason. */
export function passwordProblem(password: string): string | undefined {
  if (typeof password !== 'string') return 'password must be a string';
  if (password.length < MIN_PASSWORD_LENGTH) return `password must be at least ${MIN_PASSWORD_LENGTH} characters long`;
  if (password.length > MAX_PASSWORD_LENGTH) return `password must be at most ${MAX_PASSWORD_LENGTH} characters long`;
  return undefined;
}

/** The bcrypt hash to store for a password (the caller has checked passwordProblem). */
export async function hashPassword(password: string): Promise<string> {
  return bcrypt.hash(prehash(password), BCRYPT_COST);
}

/**
 * Whether the password matches the stored hash. Passwords longer than MAX_PASSWORD_LENGTH are refused at
 * once (no hash was ever made of one, and hashing megabytes per attempt would be a denial of service);
 * a malformed stored hash is a mismatch, not an error.
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  if (typeof password !== 'string' || typeof hash !== 'string') return false;
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  try {
    return await bcrypt.compare(prehash(password), hash);
  } catch {
    return false;
  }
}

/** Spends the time of one password check for nothing (unknown users, organizations); always false. */
export async function verifyNothing(password: string): Promise<false> {
  await verifyPassword(typeof password === 'string' ? password.slice(0, MAX_PASSWORD_LENGTH) : '', DUMMY_HASH);
  return false;
}
