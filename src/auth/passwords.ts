import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';

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
 * bcrypt work factor. bcryptjs is pure JavaScript (no native addon to build) and runs on the main thread in
 * slices, about 3x slower than the C implementation, so cost 10 (~70-110 ms per check) is the compromise
 * between the cost of a brute-force guess and login latency.
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
