import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthServices } from '../auth/services.js';
import { recordFailure } from '../http/failures.js';
import { findNulCharacter, nulCharacterMessage } from '../http/nul-characters.js';
import { appTokenRoutes } from './apptokens.js';
import { ApiError, badRequest, notFound, serverError, toApiError } from './errors.js';
import { logRoutes } from './logs.js';
import { namespaceLocationRoutes } from './namespace-locations.js';
import { organizationRoutes } from './organizations.js';
import { prototypeRoutes } from './prototypes.js';
import { repositoryListRoutes } from './repositories.js';
import { repositoryPathRoutes } from './repository-routes.js';
import { robotRoutes } from './robots.js';
import { signinRoutes } from './signin.js';
import { superuserRoutes, type SuperuserDeps } from './superuser.js';
import { teamRoutes } from './teams.js';
import { userRoutes } from './users.js';

/**
 * The management API in Quay's shape, as one encapsulated Fastify plugin registered at /api/v1. Every
 * error, Fastify's own included, leaves as Quay's error JSON from the handler below.
 */

async function sendApiError(error: unknown, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  let known: ApiError | undefined = toApiError(error);
  if (known === undefined) {
    // The request's one log line carries the error (see create-app); the client sees no internals.
    recordFailure(request, error);
    known = serverError(error);
  }
  if (reply.sent || reply.raw.headersSent) {
    reply.raw.destroy();
    return;
  }
  reply.code(known.status).headers(known.headers);
  await reply.type('application/json; charset=utf-8').send(JSON.stringify(known.toBody()));
}

/** Builds the /api/v1 plugin; register it with { prefix: '/api/v1' }. `superuser` feeds the status endpoints. */
export function apiPlugin(services: AuthServices, superuser: SuperuserDeps = {}): FastifyPluginAsync {
  return async function api(instance: FastifyInstance): Promise<void> {
    // The root parser refuses an empty JSON body; a DELETE from a session carries the JSON content type
    // (the cross-site guard) without a body, so an empty body is "no body" here.
    const json = instance.getDefaultJsonParser('error', 'ignore');
    instance.removeContentTypeParser('application/json');
    instance.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text.trim() === '') {
        done(null, undefined);
        return;
      }
      json(request, text, done);
    });

    // Every route states what it requires (route.ts); one registered any other way would run unguarded.
    instance.addHook('onRoute', (options) => {
      if (options.config?.apiAccess === undefined) {
        throw new Error(`/api/v1 route ${String(options.method)} ${options.url} declares no access: register it with route()`);
      }
    });
    instance.setErrorHandler(sendApiError);
    // After body parsing, so JSON strings are checked too; before any handler reads the database.
    instance.addHook('preValidation', async (request) => {
      const where = findNulCharacter(request, { params: true, body: true });
      if (where !== undefined) throw badRequest(nulCharacterMessage(where));
    });
    instance.setNotFoundHandler(async (request, reply) => {
      await sendApiError(notFound(`no API endpoint ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`), request, reply);
    });

    signinRoutes(instance, services);
    userRoutes(instance, services);
    appTokenRoutes(instance, services);
    organizationRoutes(instance, services);
    teamRoutes(instance, services);
    robotRoutes(instance, services);
    prototypeRoutes(instance, services);
    repositoryListRoutes(instance, services);
    repositoryPathRoutes(instance, services);
    logRoutes(instance, services);
    superuserRoutes(instance, services, superuser);
    namespaceLocationRoutes(instance, services, superuser.replication);
  };
}
