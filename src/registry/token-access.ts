import type { FastifyRequest } from 'fastify';
import { bearerChallenge, serviceName } from '../auth/challenge.js';
import { ANONYMOUS, type AccessEntry, type Identity } from '../auth/identity.js';
// The issuer's limit too, so an absurd header is refused before any work and no issued token ever is.
import { MAX_TOKEN_LENGTH } from '../auth/jwt.js';
import { missingNamespaceMessage } from '../auth/repository-creator.js';
import { TokenError, type AuthServices } from '../auth/services.js';
import type { Page, RepositoryRecord } from '../db/metadata.js';
import { namespaceOf } from '../db/repositories.js';
import { repositoryNameProblem } from '../oci/names.js';
import { clientAddress } from '../net/client-address.js';
import type { Grant, RegistryAccess, RepositoryRouteAction, RouteAccess } from './access.js';
import { RegistryError } from './errors.js';
import { queryOf } from './url.js';

/**
 * Docker's token auth on /v2: every request but the unauthenticated ones carries `Authorization: Bearer
 * <token>` issued by /v2/auth; the token's `access` claim says what it may do. A request without a usable
 * token gets 401 with a challenge naming the scope to ask for; a signed-in caller whose token lacks the
 * action (the token endpoint reduced the scope to what the caller may do) gets 403 DENIED.
 */


/** The scope a client must ask for to use a route on `name`. */
function scopeFor(access: RouteAccess, name: string): string | undefined {
  switch (access) {
    case 'catalog':
      return 'registry:catalog:*';
    case 'pull':
      return `repository:${name}:pull`;
    case 'push':
      return `repository:${name}:pull,push`;
    case 'delete':
      return `repository:${name}:delete`;
    default:
      return undefined;
  }
}

/**
 * The source repository of a cross-repository mount (`POST .../blobs/uploads/?mount=<digest>&from=<repo>`),
 * when the request is one: its challenge must name pull on the source as well, or a client that asks for
 * exactly the challenged scope gets a token that cannot mount and falls back to a full upload.
 */
function mountSource(request: FastifyRequest, access: RouteAccess, name: string): string | undefined {
  if (access !== 'push' || request.method !== 'POST') return undefined;
  const query = queryOf(request.url);
  const from = query.get('from');
  if (query.get('mount') === null || from === null || from === name || repositoryNameProblem(from) !== undefined) return undefined;
  return from;
}

/** The challenge's scope: the route's own, plus pull on a mount's source (space-separated, as RFC 6750 lists scopes). */
function challengeScope(request: FastifyRequest, access: RouteAccess, name: string): string | undefined {
  const own = scopeFor(access, name);
  const source = mountSource(request, access, name);
  return source === undefined || own === undefined ? own : `${own} repository:${source}:pull`;
}

function entryAllows(entries: readonly AccessEntry[], type: string, name: string, action: string): boolean {
  return entries.some((e) => e.type === type && e.name === name && (e.actions.includes(action) || e.actions.includes('*')));
}

function tokenGrant(identity: Identity, access: readonly AccessEntry[], address: string): Grant {
  return {
    identity,
    clientAddress: address,
    allows: (name: string, action: RepositoryRouteAction) => entryAllows(access, 'repository', name, action),
  };
}

/** RegistryAccess on registry tokens verified with the keys every instance publishes. */
export class TokenAccess implements RegistryAccess {
  constructor(private readonly services: AuthServices) {}

  private unauthorized(request: FastifyRequest, message: string, scope?: string, error?: 'invalid_token' | 'insufficient_scope'): RegistryError {
    const challenge = bearerChallenge(this.services.options, request.headers, scope, error);
    return new RegistryError('UNAUTHORIZED', message, undefined, { 'WWW-Authenticate': challenge });
  }

  async authorize(request: FastifyRequest, access: RouteAccess, name: string): Promise<Grant> {
    const address = clientAddress(request.raw);
    if (access === 'none') return tokenGrant(ANONYMOUS, [], address);
    const scope = challengeScope(request, access, name);
    const header = request.headers.authorization;
    if (header === undefined || header === '') throw this.unauthorized(request, 'authentication required', scope);
    const match = /^Bearer +([^\s]+) *$/i.exec(header);
    if (match === null || (match[1] ?? '').length > MAX_TOKEN_LENGTH) {
      // Basic credentials, other schemes and garbage all mean: go and get a token first.
      throw this.unauthorized(request, 'a registry token is required (Authorization: Bearer); get one from the realm', scope, 'invalid_token');
    }
    let verified;
    try {
      verified = await this.services.verifier.verify(match[1] ?? '', serviceName(this.services.options, request.headers));
    } catch (error) {
      if (error instanceof TokenError) throw this.unauthorized(request, `invalid token: ${error.message}`, scope, 'invalid_token');
      throw error;
    }
    const grant = tokenGrant(verified.identity, verified.access, address);
    // The catalog lists by identity what the caller may see, as Quay does: no scope needed (podman's login
    // token has none), so a signed-in caller never gets 403 there.
    if (access === 'base') return grant;
    if (access === 'catalog') {
      // Quay's anonymous protection: without FEATURE_ANONYMOUS_ACCESS an anonymous caller must log in.
      if (verified.identity.kind === 'anonymous' && !this.services.options.anonymousAccess) {
        throw this.unauthorized(request, 'authentication required', scope, 'insufficient_scope');
      }
      return grant;
    }
    if (grant.allows(name, access)) return grant;
    // Anonymous callers may still sign in; a signed-in caller already got everything it may have.
    if (verified.identity.kind === 'anonymous') throw this.unauthorized(request, 'authentication required', scope, 'insufficient_scope');
    throw await this.denied(access, name, scope);
  }

  /** DENIED, saying why when the reason is one the caller can fix: a push into a namespace that does not exist. */
  private async denied(access: RepositoryRouteAction, name: string, scope: string | undefined): Promise<RegistryError> {
    const namespace = namespaceOf(name);
    if (access === 'push' && (await this.services.accounts.accounts.getAccount(namespace)) === undefined) {
      return new RegistryError('DENIED', missingNamespaceMessage(namespace), { scope, namespace });
    }
    return new RegistryError('DENIED', undefined, { scope });
  }

  async repositoryForPush(grant: Grant, name: string): Promise<RepositoryRecord> {
    const existing = await this.services.metadata.repositories.getRepository(name);
    if (existing !== undefined) return existing;
    return this.services.creator.ensure(grant.identity, name, { clientAddress: grant.clientAddress });
  }

  async visibleRepositories(grant: Grant, page: Page): Promise<string[]> {
    const { identity } = grant;
    const signedIn = identity.kind !== 'anonymous';
    return this.services.accounts.permissions.listVisibleRepositories(
      {
        accountId: signedIn ? identity.id : undefined,
        superuser: identity.kind === 'user' && identity.superuser,
        includePublic: signedIn || this.services.options.anonymousAccess,
      },
      { last: page.last, limit: page.limit },
    );
  }
}
