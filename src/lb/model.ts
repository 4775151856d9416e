/**
 * The load-balancer model: what `quayside lb` knows about the balancer and its services once every source
 * (YAML file, kontena.yml, etcd) has been parsed, merged and validated. Everything here is plain data with
 * every default already applied, so the renderer and the controller never guess.
 *
 * Names used by HAProxy (backend sections, server names, spare slots) are computed by the helpers at the end
 * of this file and nowhere else: the renderer writes them and the runtime controller addresses them through
 * the runtime API, so both must agree.
 */

export type ServiceMode = 'http' | 'tcp';
export type BalanceAlgorithm = 'roundrobin' | 'source' | 'leastconn';
export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** One backend instance of a service. `name` is unique within its service and stable across reloads. */
export interface BackendServer {
  name: string;
  /** IPv4, IPv6 (without brackets) or a host name resolved by HAProxy at start-up. */
  address: string;
  port: number;
}

/** One `userlist` line: `user NAME password CRYPT` or `user NAME insecure-password PASS`. */
export interface BasicAuthUser {
  name: string;
  kind: 'password' | 'insecure-password';
  secret: string;
}

/** Server health checking. In http mode `path` is required; tcp mode checks connects only (`path` null). */
export interface HealthCheck {
  path: string | null;
  intervalMs: number;
  /** Expected HTTP status (http mode); null keeps HAProxy's default (2xx/3xx). */
  expectStatus: number | null;
  rise: number;
  fall: number;
}

export interface Hsts {
  maxAgeSeconds: number;
  includeSubDomains: boolean;
  preload: boolean;
}

export interface ServiceModel {
  name: string;
  /** Where this service was declared (file path or etcd key): used in error messages. */
  origin: string;
  mode: ServiceMode;
  balance: BalanceAlgorithm;
  /** Default port of the backends. */
  internalPort: number;
  /** tcp mode: the port of the service's own frontend. Always null in http mode. */
  externalPort: number | null;
  /** Lowercase; exact names or `*.domain` wildcards (which match sub-domains only, not `domain` itself). */
  virtualHosts: string[];
  /** Normalised prefixes (`/api`, never a trailing slash except the root `/`). */
  virtualPaths: string[];
  keepVirtualPath: boolean;
  /** Arguments of HAProxy's `cookie` keyword (e.g. `SERVERID insert indirect nocache`), null: no stickiness. */
  cookie: string | null;
  basicAuth: BasicAuthUser[];
  healthCheck: HealthCheck | null;
  sendProxy: 'v1' | 'v2' | null;
  redirectHttps: boolean;
  hsts: Hsts | null;
  /** Lines appended verbatim to the backend section. */
  customSettings: string[];
  backends: BackendServer[];
  /** Disabled server slots rendered after the backends, filled at runtime (see spareSlotName). */
  spareSlots: number;
}

/** A PEM bundle: certificate(s) followed by the private key, in one file as HAProxy wants it. */
export interface Certificate {
  /** File-name safe ([a-z0-9._-]); unique. */
  name: string;
  pem: string;
  /** Subject CN and DNS SANs, for logs and docs; SNI selection itself is done by HAProxy from the file. */
  hostnames: string[];
}

export interface StatsSettings {
  bindAddress: string;
  port: number;
  user: string;
  password: string;
  uri: string;
}

/** Timeouts in milliseconds. */
export interface Timeouts {
  connect: number;
  client: number;
  server: number;
  httpRequest: number;
  httpKeepAlive: number;
  queue: number;
  tunnel: number;
  check: number;
  clientFin: number;
  serverFin: number;
}

export interface LoadBalancerSettings {
  name: string;
  /** Address of every frontend bind (default 127.0.0.1); `*` means all IPv4 addresses, `::` all IPv6 (and v4 mapped). */
  bindAddress: string;
  /** Plain HTTP listening ports (possibly none). */
  httpPorts: number[];
  /** HTTPS listening port, null when there is no TLS frontend. Non-null implies at least one certificate. */
  httpsPort: number | null;
  /** Expect a PROXY protocol header (v1 or v2) on every bind. */
  acceptProxy: boolean;
  /** The first one is served when SNI matches none (or is absent). */
  certificates: Certificate[];
  strictSni: boolean;
  sslCiphers: string;
  sslCiphersuites: string;
  sslMinVersion: TlsVersion;
  /** Answered by HAProxy itself (`monitor-uri`), null: disabled. */
  healthUri: string | null;
  stats: StatsSettings | null;
  httpIgnoreProbes: boolean;
  hardStopAfterMs: number;
  maxconn: number;
  timeouts: Timeouts;
  /** HAProxy `log` target (e.g. `stdout format raw local0`), null: no logging. */
  log: string | null;
  /** Lines appended verbatim to `global` / `defaults`. */
  globalLines: string[];
  defaultsLines: string[];
}

export interface LoadBalancerModel {
  loadBalancer: LoadBalancerSettings;
  /** Sorted by name, so that rendering is deterministic. */
  services: ServiceModel[];
}

/** Files and sockets the rendered configuration refers to; chosen by the controller. */
export interface RenderPaths {
  /** Admin stats socket (`expose-fd listeners` lets a reloaded worker take over the listening sockets). */
  adminSocket: string;
  /** Directory holding the PEM bundles listed by `certificateFiles()`. */
  certDir: string;
  /** Optional: `server-state-file`, so that runtime changes (filled spare slots, drains) survive a reload. */
  serverStateFile?: string;
  /** Optional: pid file written by the master. */
  pidFile?: string;
}

/** A file the controller must write before loading the configuration. */
export interface RenderedFile {
  path: string;
  contents: string;
  /** File mode, e.g. 0o600 for private keys. */
  mode: number;
}

/** Mozilla "intermediate" TLS 1.2 ciphers (TLS 1.3 suites are configured separately). */
export const DEFAULT_SSL_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
].join(':');

export const DEFAULT_SSL_CIPHERSUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  connect: 5_000,
  client: 60_000,
  server: 60_000,
  httpRequest: 10_000,
  httpKeepAlive: 10_000,
  queue: 30_000,
  tunnel: 3_600_000,
  check: 5_000,
  clientFin: 10_000,
  serverFin: 10_000,
});

/** Cookie used for `cookie: true` / an empty KONTENA_LB_COOKIE. */
export const DEFAULT_COOKIE = 'SERVERID insert indirect nocache';

/** Name of the `backend` section of a service (also the name the runtime API uses). */
export function backendName(service: Pick<ServiceModel, 'name'>): string {
  return `be_${service.name}`;
}

/** Name of the tcp-mode `frontend` section of a service. */
export function tcpFrontendName(service: Pick<ServiceModel, 'name'>): string {
  return `fe_tcp_${service.name}`;
}

/** Name of the shared HTTP/HTTPS frontend. */
export const HTTP_FRONTEND_NAME = 'fe_http';

/** Name of a backend server inside `backendName(service)`: the backend's stable name. */
export function serverName(_service: Pick<ServiceModel, 'name'>, backend: Pick<BackendServer, 'name'>): string {
  return backend.name;
}

/** Name of spare slot `index` (0-based) of a service; never collides with a backend name (see validate). */
export function spareSlotName(_service: Pick<ServiceModel, 'name'>, index: number): string {
  return `slot-${index + 1}`;
}

/** Name of the `userlist` section holding a service's basic-auth users. */
export function userlistName(service: Pick<ServiceModel, 'name'>): string {
  return `ul_${service.name}`;
}

/** Default stable name of a backend given without one: its address and port (stable under churn, unlike an index). */
export function defaultServerName(address: string, port: number): string {
  return `${address}_${port}`.replace(/[^A-Za-z0-9_.-]/g, '_');
}
