import { randomBytes } from 'node:crypto';
import type { AccessEntry, Identity } from './identity.js';
import { decodeJws, signRs256, verifyRs256 } from './jwt.js';
import type { KeyRing } from './keys.js';
import { TokenError, type IssuedToken, type TokenIssuer, type TokenVerifier, type VerifiedToken } from './services.js';

/**
 * Registry tokens (docker's token protocol): RS256 JWTs signed with this instance's current key and
 * verified with the key their kid names, whichever instance published it. The `context` claim carries the
 * identity, so /v2 rebuilds who is calling without the database.
 */

/** The `iss` claim of every token Quayside issues. */
export const TOKEN_ISSUER = 'quayside';
/** Verified tokens remembered (each /v2 request of a pull presents the same token). */
const MAX_CACHED_TOKENS = 10_000;

export interface TokenServiceOptions {
  tokenLifetimeS: number;
  clockSkewS: number;
  now?: () => number;
}

/** The identity as the token's `context` claim carries it. */
interface TokenContext {
  kind: Identity['kind'];
  id?: number;
  superuser?: boolean;
  ownerId?: number;
  ownerName?: string;
  appTokenId?: string;
}

interface CachedToken {
  verified: VerifiedToken;
  audiences: readonly string[];
  /** Milliseconds; the entry is dropped from this time on. */
  validUntil: number;
}

function contextOf(identity: Identity): TokenContext {
  switch (identity.kind) {
    case 'anonymous':
      return { kind: 'anonymous' };
    case 'user':
      return {
        kind: 'user',
        id: identity.id,
        superuser: identity.superuser,
        ...(identity.appTokenId !== undefined ? { appTokenId: identity.appTokenId } : {}),
      };
    case 'robot':
      return { kind: 'robot', id: identity.id, ownerId: identity.ownerId, ownerName: identity.ownerName };
  }
}

function isSafeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

function malformed(message: string): TokenError {
  return new TokenError('malformed', `malformed token: ${message}`);
}

/** Rebuilds the identity from the `sub` and `context` claims. Throws TokenError('malformed'). */
function identityFrom(sub: unknown, context: unknown): Identity {
  if (typeof context !== 'object' || context === null || Array.isArray(context)) throw malformed('missing context claim');
  const c = context as Record<string, unknown>;
  if (c.kind === 'anonymous') return { kind: 'anonymous' };
  if (typeof sub !== 'string' || sub.length === 0 || !isSafeInteger(c.id)) throw malformed('invalid subject');
  if (c.kind === 'user') {
    if (typeof c.superuser !== 'boolean') throw malformed('invalid context claim');
    if (c.appTokenId !== undefined && typeof c.appTokenId !== 'string') throw malformed('invalid context claim');
    return {
      kind: 'user',
      id: c.id,
      name: sub,
      superuser: c.superuser,
      ...(typeof c.appTokenId === 'string' ? { appTokenId: c.appTokenId } : {}),
    };
  }
  if (c.kind === 'robot') {
    if (!isSafeInteger(c.ownerId) || typeof c.ownerName !== 'string') throw malformed('invalid context claim');
    return { kind: 'robot', id: c.id, name: sub, ownerId: c.ownerId, ownerName: c.ownerName };
  }
  throw malformed('unknown identity kind');
}

function accessFrom(value: unknown): AccessEntry[] {
  if (!Array.isArray(value)) throw malformed('access claim is not a list');
  return value.map((item: unknown) => {
    if (typeof item !== 'object' || item === null) throw malformed('invalid access entry');
    const { type, name, actions } = item as Record<string, unknown>;
    if (typeof type !== 'string' || typeof name !== 'string' || !Array.isArray(actions) || !actions.every((a) => typeof a === 'string')) {
      throw malformed('invalid access entry');
    }
    return { type, name, actions: [...(actions as string[])] };
  });
}

/** Issues and verifies registry tokens; one per process, over the process's KeyRing. */
export class TokenService implements TokenIssuer, TokenVerifier {
  private readonly cache = new Map<string, CachedToken>();
  private readonly now: () => number;

  constructor(
    private readonly keys: KeyRing,
    private readonly options: TokenServiceOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Signs a token for `identity` carrying exactly `access`, for the service `audience`. */
  async issue(identity: Identity, access: AccessEntry[], audience: string): Promise<IssuedToken> {
    const key = this.keys.current();
    const iat = Math.floor(this.now() / 1000);
    // A token never outlives its key: verifiers refuse everything a key signed once the key expired.
    const exp = Math.min(iat + this.options.tokenLifetimeS, Math.floor(key.expiresAt.getTime() / 1000));
    const claims = {
      iss: TOKEN_ISSUER,
      aud: audience,
      sub: identity.kind === 'anonymous' ? '' : identity.name,
      iat,
      nbf: iat,
      exp,
      jti: randomBytes(16).toString('base64url'),
      access: access.map((entry) => ({ type: entry.type, name: entry.name, actions: [...entry.actions] })),
      context: contextOf(identity),
    };
    return { token: signRs256(claims, key.privateKey, key.kid), expiresIn: exp - iat, issuedAt: new Date(iat * 1000) };
  }

  /** Checks everything about the token (see TokenError's reasons) and returns what it grants. */
  async verify(token: string, audience: string): Promise<VerifiedToken> {
    const now = this.now();
    const cached = this.cache.get(token);
    if (cached !== undefined) {
      if (cached.validUntil > now) {
        if (!cached.audiences.includes(audience)) throw new TokenError('audience', 'the token was issued for another service');
        return cached.verified;
      }
      this.cache.delete(token);
    }
    const skewMs = this.options.clockSkewS * 1000;
    const decoded = decodeJws(token);
    const key = await this.keys.publicKey(decoded.header.kid);
    if (key === undefined) throw new TokenError('unknown-key', 'the token was signed by an unknown key');
    if (key.expiresAt.getTime() + skewMs <= now) throw new TokenError('expired-key', 'the token was signed by an expired key');
    if (!verifyRs256(decoded, key.key)) throw new TokenError('signature', 'the token signature is invalid');

    const claims = decoded.payload;
    if (claims.iss !== TOKEN_ISSUER) throw new TokenError('issuer', 'the token was issued by another issuer');
    const audiences = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud.filter((a): a is string => typeof a === 'string') : [];
    if (!isSafeInteger(claims.exp) || !isSafeInteger(claims.nbf) || !isSafeInteger(claims.iat)) throw malformed('missing time claims');
    const identity = identityFrom(claims.sub, claims.context);
    const access = accessFrom(claims.access);
    if (!audiences.includes(audience)) throw new TokenError('audience', 'the token was issued for another service');
    const expiresAtMs = claims.exp * 1000;
    if (expiresAtMs + skewMs <= now) throw new TokenError('expired', 'the token has expired');
    if (claims.nbf * 1000 - skewMs > now) throw new TokenError('not-yet-valid', 'the token is not valid yet');

    const verified: VerifiedToken = { identity, access, expiresAt: new Date(expiresAtMs) };
    this.remember(token, { verified, audiences, validUntil: Math.min(expiresAtMs, key.expiresAt.getTime()) + skewMs }, now);
    return verified;
  }

  private remember(token: string, entry: CachedToken, now: number): void {
    if (this.cache.size >= MAX_CACHED_TOKENS) {
      for (const [cachedToken, cached] of this.cache) {
        if (cached.validUntil <= now) this.cache.delete(cachedToken);
      }
      // Still full of live tokens: drop the oldest tenth (Map keeps insertion order), so the scan above
      // runs once per thousand insertions rather than at each.
      while (this.cache.size >= MAX_CACHED_TOKENS * 0.9) {
        const oldest = this.cache.keys().next();
        if (oldest.done === true) break;
        this.cache.delete(oldest.value);
      }
    }
    this.cache.set(token, entry);
  }
}
