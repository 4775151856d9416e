import type { FastifyRequest } from 'fastify';
import { isSuperuser } from '../auth/options.js';
import type { Identity, UserIdentity } from '../auth/identity.js';
import { ANONYMOUS } from '../auth/identity.js';
import { hashSecret } from '../auth/secrets.js';
import type { AuthServices } from '../auth/services.js';
import { ApiError, forbidden, tooManyRequests, unauthorized } from './errors.js';

/**
 * Who an /api/v1 request acts as. Two kinds of credentials: `Authorization: Bearer <app-specific token>`
 * (what scripts use) and the `quayside_session` cookie made by POST /api/v1/signin (what a browser uses).
 * Robots cannot use the API; anonymous callers only read public things.
 */

export const SESSION_COOKIE = 'quayside_session';

/** How the identity was established; session requests are the ones a browser sends on its own. */
export type CredentialKind = 'none' | 'bearer' | 'session';

export interface ResolvedIdentity {
  identity: Identity;
  via: CredentialKind;
}

// Identity and credential kind of each request, filled once by the plugin's hook.
const resolved = new WeakMap<FastifyRequest, ResolvedIdentity>();

/** The identity the plugin's hook resolved for this request (anonymous if none). */
export function identityOf(request: FastifyRequest): ResolvedIdentity {
  return resolved.get(request) ?? { identity: ANONYMOUS, via: 'none' };
}

/** Reads one cookie from the Cookie header, undefined when absent. */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const joined = Array.isArray(header) ? header.join('; ') : header;
  for (const part of joined.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie value of a new session (or, with maxAgeS 0, of its removal). */
export function sessionCookie(value: string, maxAgeS: number, secure: boolean): string {
  const parts = [`${SESSION_COOKIE}=${value}`, 'Path=/', `Max-Age=${Math.max(0, Math.floor(maxAgeS))}`, 'HttpOnly', 'SameSite=Strict'];
  if (secure) parts.push('Secure');
  return parts.join('; ');
}

// Session ids and app tokens are random strings of a few dozen characters; anything far longer is noise.
const MAX_CREDENTIAL_LENGTH = 512;
const TOKEN_RE = /^[A-Za-z0-9._~+/=-]+$/;

async function fromBearer(services: AuthServices, header: string, address: string): Promise<Identity> {
  const match = /^Bearer +(\S+)\s*$/i.exec(header);
  if (match === null) {
    if (/^Bearer\b/i.test(header)) throw unauthorized('malformed Authorization header: expected "Bearer <app-specific token>"');
    throw unauthorized('unsupported Authorization scheme: the API takes "Bearer <app-specific token>" or a session cookie');
  }
  const token = match[1]!;
  if (token.length > MAX_CREDENTIAL_LENGTH || !TOKEN_RE.test(token)) throw unauthorized('invalid app-specific token');
  const result = await services.authenticator.loginWithAppToken(token, address);
  if (!result.ok) {
    if (result.reason === 'throttled') throw tooManyRequests(result.message, result.retryAfterS);
    if (result.reason === 'disabled') throw forbidden(result.message);
    throw unauthorized(result.message);
  }
  return result.identity;
}

async function fromSession(services: AuthServices, sessionId: string, now: Date): Promise<Identity | undefined> {
  if (sessionId.length === 0 || sessionId.length > MAX_CREDENTIAL_LENGTH) return undefined;
  const idHash = hashSecret(sessionId);
  const session = await services.accounts.sessions.get(idHash);
  if (session === undefined) return undefined;
  if (session.expiresAt.getTime() <= now.getTime()) {
    await services.accounts.sessions.delete(idHash);
    return undefined;
  }
  // A session is as good as the account behind it right now: disabled or deleted users lose it at once.
  const account = await services.accounts.accounts.getAccountById(session.accountId);
  if (account === undefined || account.kind !== 'user' || !account.enabled) return undefined;
  const user: UserIdentity = { kind: 'user', id: account.id, name: account.name, superuser: isSuperuser(services.options, account) };
  return user;
}

/**
 * Resolves and remembers the request's identity. A bad bearer token is an error (the caller asked to be
 * someone); an unknown or expired session cookie just leaves the request anonymous, as Quay does.
 */
export async function resolveIdentity(services: AuthServices, request: FastifyRequest, address: string): Promise<ResolvedIdentity> {
  let result: ResolvedIdentity = { identity: ANONYMOUS, via: 'none' };
  const authorization = request.headers.authorization;
  if (authorization !== undefined && authorization.trim() !== '') {
    result = { identity: await fromBearer(services, authorization, address), via: 'bearer' };
  } else {
    const sessionId = readCookie(request.headers.cookie, SESSION_COOKIE);
    if (sessionId !== undefined) {
      const identity = await fromSession(services, sessionId, new Date());
      if (identity !== undefined) result = { identity, via: 'session' };
    }
  }
  if (result.identity.kind === 'robot') throw forbidden('robot accounts cannot use the API');
  resolved.set(request, result);
  return result;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The cross-site request guard for cookie sessions. A browser attaches the session cookie to requests
 * other sites make it send, but without a CORS preflight a cross-site page can only send "simple"
 * requests: GET/HEAD/POST with a form or text/plain body. Requiring Content-Type: application/json on
 * every mutating session request forces a preflight, which this API never approves (it sends no CORS
 * headers), so a forged request cannot reach a handler. SameSite=Strict on the cookie is a second fence
 * for browsers that honour it; bearer tokens are never sent by a browser on its own and need no guard.
 */
export function checkCrossSiteGuard(request: FastifyRequest, via: CredentialKind): void {
  if (via !== 'session' || SAFE_METHODS.has(request.method)) return;
  const contentType = request.headers['content-type'] ?? '';
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new ApiError(
      403,
      'forbidden',
      'requests authenticated by the session cookie that change anything must be sent with Content-Type: application/json',
    );
  }
}
