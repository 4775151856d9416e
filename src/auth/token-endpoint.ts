import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable, retryAfterHeader } from '../db/unavailable.js';
import { clientAddress } from '../net/client-address.js';
import { recordFailure } from '../http/failures.js';
import { findNulCharacter, nulCharacterMessage } from '../http/nul-characters.js';
import { RegistryError } from '../http/oci-errors.js';
import { queryOf } from '../http/url.js';
import { quoted, realmUrl, serviceName } from './challenge.js';
import { ANONYMOUS, REPOSITORY_ACTIONS, type AccessEntry, type Identity, type RepositoryAction } from './identity.js';
import { MAX_TOKEN_LENGTH } from './jwt.js';
import { parseScopes, ScopeError } from './scope.js';
import type { AuthServices } from './services.js';

/**
 * GET /v2/auth, docker's token protocol (distribution's "token authentication specification"): the client
 * names the service and the scopes it wants, optionally with Basic credentials, and receives a signed token
 * carrying the subset of those scopes it is allowed. Asking for more than one may have is not an error:
 * the token simply lacks it, and /v2 answers 401/403 when it is used.
 */

/** Longest Authorization header considered; anything longer is refused unread. */
export const MAX_AUTHORIZATION_LENGTH = 8 * 1024;

const BASIC_RE = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i;

/** Basic credentials, or undefined when the header is not well-formed Basic. */
export function parseBasicAuthorization(header: string): { username: string; password: string } | undefined {
  if (header.length > MAX_AUTHORIZATION_LENGTH) return undefined;
  const match = BASIC_RE.exec(header);
  if (match === null) return undefined;
  const encoded = match[1] as string;
  if (encoded.length % 4 !== 0) return undefined;
  const decoded = Buffer.from(encoded, 'base64');
  // Only canonical encodings: Node's decoder is lenient about stray bits and characters.
  if (decoded.toString('base64') !== encoded) return undefined;
  const text = decoded.toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

async function sendError(reply: FastifyReply, error: RegistryError, headers: Record<string, string> = {}): Promise<void> {
  reply.code(error.status).headers({ ...error.headers, ...headers, 'cache-control': 'no-store' });
  await reply.type('application/json; charset=utf-8').send(JSON.stringify(error.toBody()));
}

/** The access the identity gets for the requested entries; entries without any action are left out. */
async function grant(services: AuthServices, identity: Identity, requested: readonly AccessEntry[]): Promise<AccessEntry[]> {
  const granted = await Promise.all(
    requested.map(async (entry): Promise<AccessEntry | undefined> => {
      if (entry.type === 'repository') {
        const actions = entry.actions.filter((a): a is RepositoryAction => (REPOSITORY_ACTIONS as readonly string[]).includes(a));
        const allowed = await services.policy.allowedActions(identity, entry.name, actions);
        return allowed.length > 0 ? { type: entry.type, name: entry.name, actions: allowed } : undefined;
      }
      // Everyone may list the catalog; the catalog shows each caller only what it may pull.
      if (entry.type === 'registry' && entry.name === 'catalog' && entry.actions.includes('*')) {
        return { type: 'registry', name: 'catalog', actions: ['*'] };
      }
      return undefined;
    }),
  );
  return granted.filter((entry): entry is AccessEntry => entry !== undefined);
}

async function handleToken(services: AuthServices, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const { options } = services;
  const query = queryOf(request.url);
  const serviceParams = query.getAll('service');
  const expectedService = serviceName(options, request.headers);
  if (serviceParams.length > 1) return sendError(reply, new RegistryError('REQUEST_INVALID', 'the service parameter is repeated'));
  if (serviceParams.length === 1 && serviceParams[0] !== expectedService) {
    return sendError(reply, new RegistryError('REQUEST_INVALID', `this token endpoint serves ${JSON.stringify(expectedService)}, not the requested service`));
  }
  let requested: AccessEntry[];
  try {
    requested = parseScopes(query.getAll('scope'));
  } catch (error) {
    if (error instanceof ScopeError) return sendError(reply, new RegistryError('REQUEST_INVALID', error.message));
    throw error;
  }
  const account = query.get('account');
  if (account !== null) request.log.debug({ account: account.slice(0, 255) }, 'token requested for account');

  let identity: Identity = ANONYMOUS;
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const unauthorized = (message: string) =>
      sendError(reply, new RegistryError('UNAUTHORIZED', message), { 'www-authenticate': `Basic realm=${quoted(realmUrl(options, request.headers))}` });
    const credentials = parseBasicAuthorization(authorization);
    if (credentials === undefined) return unauthorized('the Authorization header must be Basic credentials (base64 of user:password)');
    const result = await services.authenticator.login(credentials.username, credentials.password, clientAddress(request.raw));
    if (!result.ok) {
      if (result.reason === 'throttled') {
        const retryAfter = String(result.retryAfterS ?? 1);
        return sendError(reply, new RegistryError('TOOMANYREQUESTS', result.message), { 'retry-after': retryAfter });
      }
      return unauthorized(result.message);
    }
    identity = result.identity;
  }

  const access = await grant(services, identity, requested);
  const issued = await services.issuer.issue(identity, access, expectedService);
  if (issued.token.length > MAX_TOKEN_LENGTH) {
    // A token this large could not be sent back (nor verified): the client must ask for fewer scopes.
    return sendError(reply, new RegistryError('REQUEST_INVALID', `the requested scopes make a token longer than ${MAX_TOKEN_LENGTH} characters; request fewer scopes`));
  }
  reply.code(200).header('cache-control', 'no-store').type('application/json; charset=utf-8');
  await reply.send(
    JSON.stringify({
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt.toISOString(),
    }),
  );
}

/** The /v2/auth plugin. Register it next to (not inside) the /v2 registry plugin. */
export function tokenEndpoint(services: AuthServices): FastifyPluginAsync {
  return async function tokens(instance: FastifyInstance): Promise<void> {
    instance.addHook('onRequest', async (request, reply) => {
      const where = findNulCharacter(request);
      if (where === undefined) return;
      await sendError(reply, new RegistryError('REQUEST_INVALID', nulCharacterMessage(where)));
      return reply;
    });
    instance.get('/v2/auth', async (request, reply) => {
      try {
        await handleToken(services, request, reply);
      } catch (error) {
        // The request's one log line carries the error (see create-app); the client sees no internals.
        recordFailure(request, error);
        if (reply.sent) return;
        if (isDatabaseUnavailable(error)) {
          await sendError(reply, new RegistryError('UNAVAILABLE', 'the database is unavailable; retry later'), retryAfterHeader());
        } else {
          await sendError(reply, new RegistryError('INTERNAL'));
        }
      }
    });
  };
}
