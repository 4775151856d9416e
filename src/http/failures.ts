import type { FastifyRequest } from 'fastify';

/**
 * The unexpected error of a request, kept until its one log line is written (see server/create-app).
 * Every API records here instead of logging on its own, so a failure is logged once, with its request.
 */

const failures = new WeakMap<FastifyRequest, unknown>();

/** Records an unexpected error of a request for its log line. */
export function recordFailure(request: FastifyRequest, error: unknown): void {
  failures.set(request, error);
}

/** The unexpected error a request failed with, if any. */
export function failureOf(request: FastifyRequest): unknown {
  return failures.get(request);
}
