import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable, retryAfterHeader } from '../db/unavailable.js';
import { API_VERSION, API_VERSION_HEADER } from './base.js';
import type { RegistryDeps } from './context.js';
import { recordFailure } from '../http/failures.js';
import { findNulCharacter, nulCharacterMessage } from '../http/nul-characters.js';
import { RegistryError } from './errors.js';
import { dispatch } from './routes.js';
import { logStorageFault, storageFaultAsRegistryError } from './storage-faults.js';

/**
 * The /v2 API as one encapsulated Fastify plugin: bodies stay raw streams (no parser in this
 * scope buffers them), every route goes through the one dispatcher, and every error becomes
 * OCI error JSON in one place.
 */

interface OciErrorResponse {
  status: number;
  body: { errors: Array<{ code: string; message: string; detail?: unknown }> };
  headers: Record<string, string>;
}

// The OCI error a request was answered with, so that its log line says why (e.g. what a DENIED was about).
const refusals = new WeakMap<FastifyRequest, { code: string; message: string }>();

/** The OCI error code and message a request was answered with, if it was refused. */
export function refusalOf(request: FastifyRequest): { code: string; message: string } | undefined {
  return refusals.get(request);
}

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && typeof (error as Partial<FastifyError>).code === 'string';
}

/** Maps Fastify's own client errors (raised before a handler runs) onto the nearest OCI code. */
function fromFastifyError(error: FastifyError): RegistryError | undefined {
  const status = error.statusCode;
  if (status === undefined || status < 400 || status >= 500) return undefined;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RegistryError('BLOB_TOO_LARGE', 'request body too large');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new RegistryError('SIZE_INVALID', 'request body size did not match Content-Length');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_TYPE':
      return new RegistryError('UNSUPPORTED', 'unsupported or malformed Content-Type');
    default:
      return new RegistryError(status === 404 ? 'NOT_FOUND' : status === 405 ? 'METHOD_NOT_ALLOWED' : 'REQUEST_INVALID', error.message);
  }
}

/** Turns any error into the OCI error response; anything unexpected is a 500 without internals. */
export function toOciError(error: unknown): OciErrorResponse | undefined {
  const known =
    error instanceof RegistryError ? error : (storageFaultAsRegistryError(error) ?? (isFastifyError(error) ? fromFastifyError(error) : undefined));
  return known && { status: known.status, body: known.toBody(), headers: known.headers };
}

/** Sends the OCI error JSON for `error`, recording unexpected ones for the request log. */
export async function sendOciError(request: FastifyRequest, reply: FastifyReply, error: unknown): Promise<void> {
  logStorageFault(request.log, error);
  let response = toOciError(error);
  if (response === undefined) {
    recordFailure(request, error);
    // The database being down or restarting is not the request's fault: 503, and when to try again.
    const unavailable = isDatabaseUnavailable(error);
    const failed = unavailable ? new RegistryError('UNAVAILABLE', 'the metadata database is unavailable; retry later') : new RegistryError('INTERNAL');
    response = { status: failed.status, body: failed.toBody(), headers: unavailable ? retryAfterHeader() : {} };
  }
  if (reply.sent || reply.raw.headersSent) {
    // Too late for an error body (a stream failed midway): cut the connection so the client sees a short body.
    reply.raw.destroy();
    return;
  }
  const [first] = response.body.errors;
  if (first !== undefined) refusals.set(request, { code: first.code, message: first.message });
  reply.code(response.status).headers(response.headers).header(API_VERSION_HEADER, API_VERSION);
  await reply.type('application/json; charset=utf-8').send(JSON.stringify(response.body));
}

/** Builds the /v2 plugin around the registry's dependencies. Register it without fastify-plugin. */
export function registryPlugin(deps: RegistryDeps): FastifyPluginAsync {
  return async function registry(instance: FastifyInstance): Promise<void> {
    // Blob and manifest bodies are read by their handlers from request.raw; nothing here may consume them.
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

    instance.addHook('onSend', async (_request, reply, payload) => {
      reply.header(API_VERSION_HEADER, API_VERSION);
      return payload;
    });
    instance.setErrorHandler((error, request, reply) => sendOciError(request, reply, error));
    instance.addHook('onRequest', async (request) => {
      const where = findNulCharacter(request);
      if (where !== undefined) throw new RegistryError('REQUEST_INVALID', nulCharacterMessage(where));
    });

    const handler = (request: FastifyRequest, reply: FastifyReply) => dispatch(deps, request, reply);
    instance.all('/v2', handler);
    instance.all('/v2/*', handler);
  };
}
