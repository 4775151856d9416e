import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NetworkList } from '../config/networks.js';
import { clientAddress, setForwardedClientAddress } from '../net/client-address.js';
import { pathOf } from '../http/url.js';

/** What the application needs to know about the listeners in front of it. */
export interface EdgeOptions {
  /** TRUSTED_PROXY_NETWORKS: peers whose X-Forwarded-For/-Proto/-Host count; nobody else's do. */
  trustedProxies: readonly string[];
  /**
   * Set when PREFERRED_URL_SCHEME is https and this process terminates TLS: plain HTTP requests are sent
   * there with a 301 (host: SERVER_HOSTNAME, else the request's host name, with `port` unless 443).
   */
  httpsRedirect?: { host?: string; port?: number };
}

/** Probes answer on any scheme: a balancer checks the plain port without following redirects. */
function isProbe(path: string): boolean {
  return path.startsWith('/health/') || path === '/health' || path === '/v1/_ping';
}

function headerValues(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value.join(',') : value).split(',').map((part) => part.trim()).filter((part) => part.length > 0);
}

/** An X-Forwarded-For element: an address, perhaps with a port ("1.2.3.4:5", "[::1]:5"). */
function forwardedAddress(element: string): string | undefined {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(element);
  const candidate = bracketed ? bracketed[1]! : /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(element)?.[1] ?? element;
  return isIP(candidate) === 0 ? undefined : candidate;
}

/**
 * The client of a request relayed by trusted proxies: the nearest address in X-Forwarded-For that is not
 * itself a trusted proxy (each proxy appends the peer it saw, so only the trusted right end is believed).
 */
function forwardedClient(chain: string[], trusted: NetworkList): string | undefined {
  let client: string | undefined;
  for (let i = chain.length - 1; i >= 0; i--) {
    const address = forwardedAddress(chain[i]!);
    if (address === undefined) return client;
    client = address;
    if (!trusted.has(address)) return address;
  }
  return client;
}

function redirectHost(request: FastifyRequest, target: NonNullable<EdgeOptions['httpsRedirect']>): string {
  if (target.host !== undefined) return target.host;
  const host = typeof request.headers.host === 'string' ? request.headers.host : 'localhost';
  const name = /^(\[[^\]]*\]|[^:]*)/.exec(host)?.[1] ?? 'localhost';
  return target.port === undefined || target.port === 443 ? name : `${name}:${target.port}`;
}

/**
 * The first request hook: who the client is (PROXY header, or X-Forwarded-For from a trusted proxy), over
 * which scheme it came, and the redirect of plain HTTP to https.
 */
export function installEdgeHooks(app: FastifyInstance, options: EdgeOptions): void {
  const trusted = new NetworkList(options.trustedProxies);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const raw = request.raw;
    // HTTP/2 names the host in :authority only; the token realm and service and the redirect read Host.
    const authority = raw.headers[':authority'];
    if (raw.headers.host === undefined && typeof authority === 'string') raw.headers.host = authority;
    const peer = clientAddress(raw.socket);
    const fromTrustedProxy = trusted.has(peer);
    let secure = (raw.socket as Partial<TLSSocket>).encrypted === true;
    if (fromTrustedProxy) {
      const client = forwardedClient(headerValues(raw.headers['x-forwarded-for']), trusted);
      if (client !== undefined) setForwardedClientAddress(raw, client);
      const proto = headerValues(raw.headers['x-forwarded-proto']).at(-1)?.toLowerCase();
      if (proto === 'https') secure = true;
      else if (proto === 'http') secure = false;
      const host = headerValues(raw.headers['x-forwarded-host']).at(-1);
      // The realm and service of token challenges are built from the Host the client used.
      if (host !== undefined && host.length <= 300) raw.headers.host = host;
    }
    if (options.httpsRedirect !== undefined && !secure && !isProbe(pathOf(request.url))) {
      await reply.code(301).header('location', `https://${redirectHost(request, options.httpsRedirect)}${request.url}`).send();
    }
  });
}
