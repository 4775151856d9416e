import { createHash } from 'node:crypto';

/**
 * Content digests as the registry accepts them. Deliberately stricter than the OCI grammar
 * (which admits any registered algorithm and upper-case encodings): every digest we store
 * must have exactly one spelling, otherwise two spellings of one blob would be two blobs.
 */

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
  digest: string;
}

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^(sha256|sha512):([0-9a-f]+)$/;

/** Parse 'sha256:<64 lowercase hex>' or 'sha512:<128 lowercase hex>'; undefined for anything else. */
export function parseDigest(value: string): ParsedDigest | undefined {
  if (typeof value !== 'string' || value.length > 7 + HEX_LENGTH.sha512) return undefined;
  const match = DIGEST_RE.exec(value);
  if (match === null) return undefined;
  const algorithm = match[1] as DigestAlgorithm;
  const hex = match[2] as string;
  if (hex.length !== HEX_LENGTH[algorithm]) return undefined;
  return { algorithm, hex, digest: value };
}

/** True when parseDigest accepts the value. */
export function isValidDigest(value: string): boolean {
  return parseDigest(value) !== undefined;
}

/** The digest of some bytes with the given algorithm, as '<algorithm>:<hex>'. */
export function computeDigest(algorithm: DigestAlgorithm, data: Buffer | string): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** 'sha256:<hex>' of the bytes (a string is hashed as UTF-8). */
export function sha256Digest(data: Buffer | string): string {
  return computeDigest('sha256', data);
}

/** True when the bytes hash to the digest under the digest's own algorithm. */
export function digestMatches(digest: string, data: Buffer | string): boolean {
  const parsed = parseDigest(digest);
  return parsed !== undefined && computeDigest(parsed.algorithm, data) === parsed.digest;
}

/** Blob storage path component: 'sha256/ab/abcdef...'. Throws on an invalid digest. */
export function blobPath(digest: string): string {
  const parsed = parseDigest(digest);
  // A path built from an unchecked string could escape the storage root; callers must validate first.
  if (parsed === undefined) throw new TypeError(`invalid digest: ${JSON.stringify(String(digest).slice(0, 200))}`);
  return `${parsed.algorithm}/${parsed.hex.slice(0, 2)}/${parsed.hex}`;
}
