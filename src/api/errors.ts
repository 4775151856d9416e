import type { FastifyError } from 'fastify';
import { NameTakenError, StillInUseError } from '../db/account-metadata.js';
import { isDatabaseUnavailable, retryAfterHeader } from '../db/unavailable.js';
import { RegistryError } from '../http/oci-errors.js';

/**
 * The /api/v1 error table. Quay answers errors as {"error_message", "error_type", "title", "status",
 * "detail"}; handlers throw ApiError and the plugin's error handler renders it in one place.
 */
export type ApiErrorType =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'too_many_requests'
  | 'service_unavailable'
  | 'internal_error';

/** The JSON body of an error response. */
export interface ApiErrorBody {
  error_message: string;
  error_type: ApiErrorType;
  title: ApiErrorType;
  status: number;
  detail: string;
}

/** An error a client caused or must be told about; `message` is shown to the client as is. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: ApiErrorType,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** Quay's error body; error_message and detail carry the same text, as Quay's do. */
  toBody(): ApiErrorBody {
    return { error_message: this.message, error_type: this.type, title: this.type, status: this.status, detail: this.message };
  }
}

/** 400: the request itself is wrong (bad JSON, wrong types, bad names, unknown referenced accounts). */
export function badRequest(message: string): ApiError {
  return new ApiError(400, 'invalid_request', message);
}

/** 401: no credentials where some are needed, or credentials that are not valid. */
export function unauthorized(message = 'Requires authentication'): ApiError {
  return new ApiError(401, 'invalid_token', message);
}

/** 403: the caller is known but may not do this. */
export function forbidden(message = 'Unauthorized'): ApiError {
  return new ApiError(403, 'insufficient_scope', message);
}

/** 404. */
export function notFound(message = 'Not Found'): ApiError {
  return new ApiError(404, 'not_found', message);
}

/** 429 with Retry-After (seconds). */
export function tooManyRequests(message: string, retryAfterS: number | undefined): ApiError {
  const headers: Record<string, string> = retryAfterS === undefined ? {} : { 'retry-after': String(Math.max(1, Math.ceil(retryAfterS))) };
  return new ApiError(429, 'too_many_requests', message, headers);
}

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && typeof (error as Partial<FastifyError>).code === 'string';
}

/** Fastify's own client errors (body parsing, content types, sizes), raised before a handler runs. */
function fromFastifyError(error: FastifyError): ApiError | undefined {
  const status = error.statusCode;
  if (status === undefined || status < 400 || status >= 500) return undefined;
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return badRequest('the request body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'payload_too_large', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_TYPE':
      return new ApiError(415, 'unsupported_media_type', 'request bodies must be JSON (Content-Type: application/json)');
    default:
      if (status === 404) return notFound();
      // A JSON.parse failure carries a SyntaxError text that names positions, not internals.
      return new ApiError(status, 'invalid_request', error.message);
  }
}

/**
 * The ApiError for any error a handler or Fastify raised; undefined for unexpected ones (answered 500
 * without internals). Store errors that are the client's doing map here so every handler agrees.
 */
export function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (error instanceof NameTakenError) return badRequest(error.message);
  if (error instanceof StillInUseError) return badRequest(error.message);
  // The repository creator is shared with /v2 and speaks its errors (DENIED when a race lost a namespace).
  if (error instanceof RegistryError && error.status < 500) {
    if (error.status === 401) return unauthorized(error.message);
    if (error.status === 403) return forbidden(error.message);
    if (error.status === 404) return notFound(error.message);
    return badRequest(error.message);
  }
  if (error instanceof SyntaxError && (error as { statusCode?: unknown }).statusCode === 400) {
    return badRequest('the request body is not valid JSON');
  }
  if (isFastifyError(error)) return fromFastifyError(error);
  return undefined;
}

/** The body of an unexpected error: nothing about what went wrong inside. */
export function internalError(): ApiError {
  return new ApiError(500, 'internal_error', 'internal server error');
}

/** The answer to an unexpected error: 503 with Retry-After when the database is unavailable, else 500. */
export function serverError(error: unknown): ApiError {
  if (!isDatabaseUnavailable(error)) return internalError();
  return new ApiError(503, 'service_unavailable', 'the database is unavailable; retry later', retryAfterHeader());
}
