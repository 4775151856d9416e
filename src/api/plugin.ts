import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthServices } from '../auth/services.js';
import { recordFailure } from '../registry/plugin.js';
import { appTokenRoutes } from './apptokens.js';
import { ApiError, notFound, serverError, toApiError } from './errors.js';
import { logRoutes } from './logs.js';
import { organizationRoutes } from './organizations.js';
import { prototypeRoutes } from './prototypes.js';
import { repositoryListRoutes } from './repositories.js';
import { repositoryPathRoutes } from './repository-routes.js';
import { robotRoutes } from './robots.js';
import { signinRoutes } from './signin.js';
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

/** Builds the /api/v1 plugin; register it with { prefix: '/api/v1' }. */
export function apiPlugin(services: AuthServices): FastifyPluginAsync {
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

    instance.setErrorHandler(sendApiError);
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
  };
}
