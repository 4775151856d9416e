import type { Server as NetServer } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { createHttpsServer, createProxyListener, type EdgeApplication } from '../net/listeners.js';
import { ReloadingTlsContext, TlsPairError, TlsPolicyError } from '../net/tls-context.js';
import type { ProxyProtocolMetrics } from '../net/proxy-protocol-metrics.js';
import type { EdgeOptions } from '../server/edge-hooks.js';
import { CliError } from './cli-error.js';
import { EarlyListener } from './early-listener.js';
import type { CheckedConfig } from './runtime.js';

/** The ports asked for; undefined: that listener is off. */
export interface RequestedPorts {
  http: number | undefined;
  https: number | undefined;
  proxy: number | undefined;
}

/** Which listeners serve, and how; decided (and refused, one line) before anything is bound. */
export interface ListenerPlan {
  ports: RequestedPorts;
  /** ssl.cert/ssl.key, when a listener terminates TLS with them. */
  tls: NonNullable<CheckedConfig['edge']['tls']> | undefined;
  /** The PROXY port runs TLS after the header (else plain HTTP). */
  proxyTls: boolean;
}

export function planListeners(checked: CheckedConfig, ports: RequestedPorts): ListenerPlan {
  const { config, edge } = checked;
  const external = config.EXTERNAL_TLS_TERMINATION;
  if (ports.https !== undefined) {
    if (external) throw new CliError('serve: --https-port: EXTERNAL_TLS_TERMINATION is true, so TLS is not terminated here; drop one of them', 2);
    if (edge.tls === undefined) throw new CliError('serve: --https-port needs ssl.cert and ssl.key in the --config-dir', 2);
  }
  if (ports.proxy !== undefined && edge.tls === undefined && !external) {
    throw new CliError('serve: --proxy-port: after the PROXY header comes TLS (put ssl.cert and ssl.key in the --config-dir) or plain HTTP (set EXTERNAL_TLS_TERMINATION: true)', 2);
  }
  if (ports.http === undefined && ports.https === undefined && ports.proxy === undefined) {
    throw new CliError('serve: no port to listen on (--port none and neither --https-port nor --proxy-port)', 2);
  }
  const proxyTls = ports.proxy !== undefined && !external;
  const tls = ports.https !== undefined || proxyTls ? edge.tls : undefined;
  return { ports, tls, proxyTls };
}

/**
 * A port the application's servers take their connections from: bound here (EarlyListener), or held by the
 * primary process, which sends each connection to a worker (src/cluster/dispatched-listener.ts).
 */
export interface ServeListener {
  readonly port: number;
  attach(target: NetServer): Promise<void>;
  close(): Promise<void>;
}

/** The listeners of one serving process. */
export interface ServeListeners {
  http?: ServeListener;
  https?: ServeListener;
  proxy?: ServeListener;
}

/** The ports this process bound itself. */
export interface BoundListeners extends ServeListeners {
  http?: EarlyListener;
  https?: EarlyListener;
  proxy?: EarlyListener;
}

/** Binds every asked-for port before migrations run; one bound port is let go when a later one fails. */
export async function bindListeners(address: string, plan: ListenerPlan): Promise<BoundListeners> {
  const bound: BoundListeners = {};
  try {
    for (const kind of ['http', 'https', 'proxy'] as const) {
      const port = plan.ports[kind];
      if (port !== undefined) bound[kind] = await EarlyListener.bind(address, port);
    }
  } catch (error) {
    await closeListeners(bound);
    throw error;
  }
  return bound;
}

export async function closeListeners(bound: ServeListeners): Promise<void> {
  await Promise.all(Object.values(bound).map((listener: ServeListener) => listener.close()));
}

/** What the application's edge hooks need (createApp's `edge`). */
export function edgeOptionsFrom(config: Config, plan: ListenerPlan, bound: ServeListeners): EdgeOptions {
  const terminatesTls = plan.tls !== undefined;
  return {
    trustedProxies: config.TRUSTED_PROXY_NETWORKS,
    httpsRedirect: config.PREFERRED_URL_SCHEME === 'https' && terminatesTls
      ? { host: config.SERVER_HOSTNAME, port: bound.https?.port }
      : undefined,
  };
}

/** The running edge: the certificate (reload on SIGHUP) and the TLS/PROXY servers. */
export interface RunningEdge {
  tls: ReloadingTlsContext | undefined;
  /** The listeners stop accepting; HTTP/2 sessions get GOAWAY; HTTP/1 connections drain with the HTTP server. */
  stopAccepting(): void;
  /** Stops watching the certificate files. */
  close(): void;
}

/** Hands each bound port to its server, all serving `app`. */
export async function attachListeners(app: EdgeApplication, bound: ServeListeners, plan: ListenerPlan, logger: Logger, metrics?: ProxyProtocolMetrics): Promise<RunningEdge> {
  let tls: ReloadingTlsContext | undefined;
  if (plan.tls !== undefined) {
    try {
      // HTTP/2 where the client offers it (ALPN, the policy's default), HTTP/1.1 otherwise; SSL_PROTOCOLS/SSL_CIPHERS as configured.
      tls = await ReloadingTlsContext.open({ files: plan.tls.files, policy: plan.tls.policy, logger });
    } catch (error) {
      if (error instanceof TlsPairError || error instanceof TlsPolicyError) throw new CliError(error.message);
      throw error;
    }
  }
  const servers: NetServer[] = [];
  const detach: Array<() => void> = [];
  if (bound.http) await bound.http.attach(app.http1);
  if (bound.https && tls) {
    const https = createHttpsServer(app, tls, logger);
    detach.push(https.detach);
    servers.push(https.server);
    await bound.https.attach(https.server);
  }
  if (bound.proxy) {
    const proxy = createProxyListener({ app, tls: plan.proxyTls ? tls : undefined, logger, metrics });
    servers.push(proxy);
    await bound.proxy.attach(proxy);
  }
  // A TLS handshake or a PROXY header in progress holds a socket too: the same bound as the HTTP server's.
  for (const server of servers) server.maxConnections = app.http1.maxConnections;
  return {
    tls,
    stopAccepting() {
      // close() calls back only when every socket it accepted is gone; those belong to `app` and drain with it.
      for (const server of servers) if (server.listening) server.close();
      app.http2.drain();
    },
    close() {
      for (const undo of detach) undo();
      tls?.close();
    },
  };
}
