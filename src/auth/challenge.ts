import type { IncomingHttpHeaders } from 'node:http';
import type { AuthOptions } from './options.js';

/**
 * The names a registry token is bound to. With SERVER_HOSTNAME set, the service (the token's audience) is
 * that name whatever Host a request came with, so every instance behind a balancer agrees; without it (a
 * laptop), the Host header the client used is the service.
 */

/** The service name for this request: SERVER_HOSTNAME, else the Host header, else "localhost". */
export function serviceName(options: AuthOptions, headers: IncomingHttpHeaders): string {
  if (options.serverHostname) return options.serverHostname;
  const host = headers.host;
  return typeof host === 'string' && host.length > 0 && host.length <= 300 ? host : 'localhost';
}

/** The token endpoint's URL as clients must reach it. */
export function realmUrl(options: AuthOptions, headers: IncomingHttpHeaders): string {
  return `${options.urlScheme}://${serviceName(options, headers)}/v2/auth`;
}

/** Quotes a challenge parameter value (RFC 7235 quoted-string). */
export function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The WWW-Authenticate value of a 401 on /v2: where to get a token and, when the request needed one,
 * the scope to ask for; `error` is "insufficient_scope" when a token was presented but lacked the scope.
 */
export function bearerChallenge(
  options: AuthOptions,
  headers: IncomingHttpHeaders,
  scope?: string,
  error?: 'invalid_token' | 'insufficient_scope',
): string {
  const params = [`realm=${quoted(realmUrl(options, headers))}`, `service=${quoted(serviceName(options, headers))}`];
  if (scope !== undefined) params.push(`scope=${quoted(scope)}`);
  if (error !== undefined) params.push(`error=${quoted(error)}`);
  return `Bearer ${params.join(',')}`;
}
