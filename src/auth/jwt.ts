import { sign as rsaSign, verify as rsaVerify, type KeyObject } from 'node:crypto';
import { TokenError } from './services.js';

/**
 * Compact JWS with RS256 only, on node:crypto. Parsing is strict on purpose: exactly three canonical
 * base64url parts, JSON objects for header and payload, `alg` exactly "RS256" (so "none" and the HMAC
 * algorithms, whose key would be the public key, are refused before any key is looked up), `typ` "JWT"
 * when present, a short `kid`, and no `crit` extensions (we understand none).
 */

/**
 * Longest token accepted and issued: ours are about 700 bytes plus the access list, and a token must fit
 * an Authorization header well within Node's 16 KiB limit on all request headers together.
 */
export const MAX_TOKEN_LENGTH = 8 * 1024;

const KID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const BASE64URL_RE = /^[A-Za-z0-9_-]+$/;

export interface JwsHeader {
  alg: 'RS256';
  typ?: 'JWT';
  kid: string;
}

/** A token whose structure is valid; its signature is not checked yet. */
export interface DecodedJws {
  header: JwsHeader;
  payload: Record<string, unknown>;
  /** The bytes the signature covers: "<header>.<payload>". */
  signingInput: string;
  signature: Buffer;
}

function encodeJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** Signs `payload` with RS256; `kid` names the key in the header. */
export function signRs256(payload: Record<string, unknown>, privateKey: KeyObject, kid: string): string {
  if (!KID_RE.test(kid)) throw new Error(`invalid key id ${JSON.stringify(kid)}`);
  const signingInput = `${encodeJson({ alg: 'RS256', typ: 'JWT', kid })}.${encodeJson(payload)}`;
  const signature = rsaSign('sha256', Buffer.from(signingInput, 'ascii'), privateKey);
  return `${signingInput}.${signature.toString('base64url')}`;
}

function malformed(message: string): TokenError {
  return new TokenError('malformed', `malformed token: ${message}`);
}

// Node's decoder skips characters outside the alphabet; only canonical encodings (no padding) pass here.
function decodePart(part: string, what: string): Buffer {
  if (!BASE64URL_RE.test(part) || part.length % 4 === 1) throw malformed(`${what} is not base64url`);
  const bytes = Buffer.from(part, 'base64url');
  if (bytes.toString('base64url') !== part) throw malformed(`${what} is not canonical base64url`);
  return bytes;
}

function decodeObject(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decodePart(part, what).toString('utf8'));
  } catch (error) {
    if (error instanceof TokenError) throw error;
    throw malformed(`${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** Splits and checks a compact JWS without verifying it. Throws TokenError('malformed'). */
export function decodeJws(token: string): DecodedJws {
  if (typeof token !== 'string' || token.length === 0) throw malformed('empty');
  if (token.length > MAX_TOKEN_LENGTH) throw malformed(`longer than ${MAX_TOKEN_LENGTH} characters`);
  const parts = token.split('.');
  if (parts.length !== 3) throw malformed('expected three dot-separated parts');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeObject(headerPart, 'header');
  if (header.alg !== 'RS256') throw malformed('only the RS256 algorithm is accepted');
  if (header.typ !== undefined && header.typ !== 'JWT') throw malformed('typ must be JWT');
  if (typeof header.kid !== 'string' || !KID_RE.test(header.kid)) throw malformed('missing or invalid key id');
  if (header.crit !== undefined) throw malformed('critical header extensions are not supported');
  const payload = decodeObject(payloadPart, 'payload');
  const signature = decodePart(signaturePart, 'signature');
  return {
    header: { alg: 'RS256', kid: header.kid, ...(header.typ === 'JWT' ? { typ: 'JWT' as const } : {}) },
    payload,
    signingInput: `${headerPart}.${payloadPart}`,
    signature,
  };
}

/** Whether the decoded token's signature is valid for `publicKey`. */
export function verifyRs256(decoded: DecodedJws, publicKey: KeyObject): boolean {
  try {
    return rsaVerify('sha256', Buffer.from(decoded.signingInput, 'ascii'), publicKey, decoded.signature);
  } catch {
    // A key of the wrong type (not RSA) or a signature of the wrong size: not valid, not a crash.
    return false;
  }
}
