import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, scrypt } from 'node:crypto';
import type { SharedTokenRecord } from '../../db/swift-tokens.js';
import type { SwiftSession } from './auth.js';
import type { SwiftParams } from './params.js';

/**
 * Sealing of a shared Swift token (docs/storage-swift.md). The row key is a hash of the credentials' identity
 * (auth URL, version, user, scope, region, storage URL override; never the password), so every process
 * configured with the same account finds the same row. The token is sealed with AES-256-GCM under a key
 * derived from the password and that identity: only a holder of the same configuration can open it, and a
 * database reader alone cannot use it. The password is stretched with scrypt first, because a database
 * reader could otherwise try guesses against the GCM tag at the speed of a hash.
 */

export type SealParams = Pick<SwiftParams, 'auth_url' | 'auth_version' | 'swift_user' | 'swift_password' | 'os_options'>;

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** scrypt cost: about 50 ms and 16 MiB once per store, nothing per request. */
const SCRYPT = { N: 1 << 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/** The credentials' identity, canonical (sorted os_options), without the password. */
export function credentialIdentity(params: SealParams): string {
  const options = Object.entries(params.os_options ?? {})
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(['quayside swift token', params.auth_url.replace(/\/+$/, ''), params.auth_version, params.swift_user, options]);
}

/** The row key of these credentials: hex SHA-256 of their identity. */
export function sharedTokenKey(params: SealParams): string {
  return createHash('sha256').update(credentialIdentity(params)).digest('hex');
}

function stretch(password: string, salt: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, 32, SCRYPT, (error, key) => (error === null ? resolve(key) : reject(error)));
  });
}

/** Seals and opens the shared token of one set of credentials. */
export class TokenSeal {
  private constructor(
    /** The row key (sharedTokenKey). */
    readonly key: string,
    private readonly cipherKey: Buffer,
    private readonly fingerprintKey: Buffer,
  ) {}

  /** Derives the keys of these credentials (scrypt, then HKDF into a cipher key and a fingerprint key). */
  static async derive(params: SealParams): Promise<TokenSeal> {
    const key = sharedTokenKey(params);
    const stretched = await stretch(params.swift_password, key);
    const expand = (info: string) => Buffer.from(hkdfSync('sha256', stretched, Buffer.from(key, 'hex'), info, 32));
    return new TokenSeal(key, expand('quayside swift token aes-256-gcm'), expand('quayside swift token fingerprint'));
  }

  /** HMAC of the token: compare-and-delete compares this, and it tells a database reader nothing. */
  fingerprint(token: string): string {
    return createHmac('sha256', this.fingerprintKey).update(token).digest('hex');
  }

  seal(session: SwiftSession): SharedTokenRecord {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.cipherKey, iv);
    // The row key is authenticated too: a sealed token copied into another row does not open there.
    cipher.setAAD(Buffer.from(this.key, 'hex'));
    const plain = JSON.stringify({ token: session.token, storageUrl: session.storageUrl, expiresAt: session.expiresAt ?? null });
    const sealed = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
    return { sealed, fingerprint: this.fingerprint(session.token), ...(session.expiresAt !== undefined && { expiresAt: session.expiresAt }) };
  }

  /** The session sealed in `record`; undefined when it was sealed under other credentials or is damaged. */
  open(record: SharedTokenRecord): SwiftSession | undefined {
    const bytes = Buffer.from(record.sealed, 'base64');
    if (bytes.length <= IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.cipherKey, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(this.key, 'hex'));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      return parseSession(JSON.parse(plain) as unknown);
    } catch {
      return undefined;
    }
  }
}

function parseSession(value: unknown): SwiftSession | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { token, storageUrl, expiresAt } = value as Record<string, unknown>;
  if (typeof token !== 'string' || token === '' || typeof storageUrl !== 'string' || storageUrl === '') return undefined;
  if (expiresAt !== null && typeof expiresAt !== 'number') return undefined;
  return { token, storageUrl, ...(typeof expiresAt === 'number' && { expiresAt }) };
}
