/**
 * Source documents -> LoadBalancerModel. The zod schemas (schema.ts) check each key's shape; this file applies
 * the defaults and the checks that span keys and services: listening ports, certificates, stats password,
 * routes claimed twice, http-only features without an https frontend. Every issue names its origin and key.
 */
import type { LoadBalancerEntry, SourceDocument } from './document.js';
import { LbConfigError, type LbIssue } from './errors.js';
import {
  DEFAULT_SSL_CIPHERS,
  DEFAULT_SSL_CIPHERSUITES,
  DEFAULT_TIMEOUTS,
  type Certificate,
  type LoadBalancerModel,
  type LoadBalancerSettings,
  type ServiceModel,
  type StatsSettings,
} from './model.js';
import { checkPemBundle } from './pem.js';
import { findRouteConflicts } from './routing.js';
import { displayPath } from './schema.js';
import { buildService } from './validate-service.js';

const DEFAULT_STATS_PORT = 1000;
const DEFAULT_HARD_STOP_AFTER_MS = 30_000;
const DEFAULT_MAXCONN = 4096;
/** Like `quayside serve`: nothing is reachable from other machines until `bind_address` says so. */
export const DEFAULT_BIND_ADDRESS = '127.0.0.1';
/**
 * Passwords found in examples and vendor defaults. A stats page shows every backend's address and health
 * (and, at admin level, can drain servers), so a copied example password is refused rather than served.
 */
const EXAMPLE_PASSWORDS = new Set([
  'change-me', 'changeme', 'change_me', 'changeit', 'password', 'passw0rd', 'admin', 'administrator', 'secret',
  'stats', 'haproxy', 'root', 'toor', 'default', 'example', 'test', 'letmein', 'qwerty', '123456', '12345678',
]);

/** True when `password` is one of the well-known example or default passwords (case-insensitive). */
export function isExamplePassword(password: string): boolean {
  return EXAMPLE_PASSWORDS.has(password.trim().toLowerCase());
}

function buildLoadBalancer(entry: LoadBalancerEntry | null, issues: LbIssue[]): LoadBalancerSettings {
  const input = entry?.input ?? {};
  const origin = entry?.origin ?? '(defaults)';
  const naming = entry?.naming ?? { prefix: 'load_balancer' };
  const fail = (field: string, message: string) => issues.push({ origin, path: displayPath(naming, field), message });

  const httpPorts = [...new Set(input.http_ports ?? [80])];
  const certificates: Certificate[] = [];
  (input.certificates ?? []).forEach((cert, index) => {
    const name = cert.name ?? `cert-${index + 1}`;
    const check = checkPemBundle(cert.pem);
    if (!check.ok) fail(`certificates.${index}`, `certificate ${name} ${check.message}`);
    else if (certificates.some((c) => c.name === name)) fail(`certificates.${index}.name`, `duplicate certificate name ${name}`);
    else certificates.push({ name, pem: cert.pem.endsWith('\n') ? cert.pem : `${cert.pem}\n`, hostnames: check.hostnames });
  });
  const certificatesGiven = (input.certificates ?? []).length > 0;
  let httpsPort: number | null = input.https_port === undefined ? (certificatesGiven ? 443 : null) : input.https_port;
  if (httpsPort !== null && !certificatesGiven) fail('https_port', 'needs at least one certificate (certificates)');
  if (httpsPort === null && certificatesGiven) fail('certificates', 'are given but https_port is null');
  if (httpsPort !== null && certificates.length === 0) httpsPort = null;
  if (input.strict_sni === true && httpsPort === null && !certificatesGiven) fail('strict_sni', 'needs an https frontend');

  let stats: StatsSettings | null = null;
  if (input.stats !== undefined && input.stats !== null && input.stats.enabled !== false) {
    const password = input.stats.password;
    if (password === undefined || password === '') {
      fail('stats.password', 'is required when stats are enabled (there is no default password)');
    } else if (/[\x00-\x1f\x7f]/.test(password)) {
      fail('stats.password', 'must not contain control characters');
    } else if (isExamplePassword(password)) {
      fail('stats.password', `"${password}" is a well-known example password; choose your own (e.g. openssl rand -base64 18)`);
    } else {
      stats = {
        bindAddress: input.stats.bind_address ?? input.bind_address ?? DEFAULT_BIND_ADDRESS,
        port: input.stats.port ?? DEFAULT_STATS_PORT,
        user: input.stats.user ?? 'stats',
        password,
        uri: input.stats.uri ?? '/',
      };
    }
  }

  const healthUri = input.health_uri ?? null;
  if (healthUri !== null && httpPorts.length === 0 && httpsPort === null) fail('health_uri', 'needs an http or https port');
  const t = input.timeouts ?? {};
  return {
    name: input.name ?? 'quayside',
    bindAddress: input.bind_address ?? DEFAULT_BIND_ADDRESS,
    httpPorts,
    httpsPort,
    acceptProxy: input.accept_proxy ?? false,
    certificates,
    strictSni: input.strict_sni ?? false,
    sslCiphers: input.ssl_ciphers ?? DEFAULT_SSL_CIPHERS,
    sslCiphersuites: input.ssl_ciphersuites ?? DEFAULT_SSL_CIPHERSUITES,
    sslMinVersion: input.ssl_min_version ?? 'TLSv1.2',
    healthUri,
    stats,
    httpIgnoreProbes: input.http_ignore_probes ?? true,
    hardStopAfterMs: input.hard_stop_after ?? DEFAULT_HARD_STOP_AFTER_MS,
    maxconn: input.maxconn ?? DEFAULT_MAXCONN,
    timeouts: {
      connect: t.connect ?? DEFAULT_TIMEOUTS.connect,
      client: t.client ?? DEFAULT_TIMEOUTS.client,
      server: t.server ?? DEFAULT_TIMEOUTS.server,
      httpRequest: t.http_request ?? DEFAULT_TIMEOUTS.httpRequest,
      httpKeepAlive: t.http_keep_alive ?? DEFAULT_TIMEOUTS.httpKeepAlive,
      queue: t.queue ?? DEFAULT_TIMEOUTS.queue,
      tunnel: t.tunnel ?? DEFAULT_TIMEOUTS.tunnel,
      check: t.check ?? DEFAULT_TIMEOUTS.check,
      clientFin: t.client_fin ?? DEFAULT_TIMEOUTS.clientFin,
      serverFin: t.server_fin ?? DEFAULT_TIMEOUTS.serverFin,
    },
    log: input.log ?? null,
    globalLines: input.global ?? [],
    defaultsLines: input.defaults ?? [],
  };
}

/** Every listening port has one owner: the balancer's http/https/stats ports and each tcp service. */
function checkPorts(
  lb: LoadBalancerSettings,
  lbEntry: LoadBalancerEntry | null,
  lbOrigin: string,
  services: ServiceModel[],
  externalPortPath: (service: ServiceModel) => string,
  issues: LbIssue[],
): void {
  const naming = lbEntry?.naming ?? { prefix: 'load_balancer' };
  const owners = new Map<number, string>();
  const claim = (port: number, owner: string, origin: string, path: string) => {
    const previous = owners.get(port);
    if (previous === undefined) owners.set(port, owner);
    else issues.push({ origin, path, message: `port ${port} is already used by ${previous}` });
  };
  const lbPath = (field: string) => displayPath(naming, field);
  for (const port of lb.httpPorts) claim(port, lbPath('http_ports'), lbOrigin, lbPath('http_ports'));
  if (lb.httpsPort !== null) claim(lb.httpsPort, lbPath('https_port'), lbOrigin, lbPath('https_port'));
  if (lb.stats !== null) claim(lb.stats.port, lbPath('stats.port'), lbOrigin, lbPath('stats.port'));
  for (const service of services) {
    if (service.externalPort !== null) {
      claim(service.externalPort, `service ${service.name}`, service.origin, externalPortPath(service));
    }
  }
}

const DEFAULT_SPARE_SLOTS = 4;

/** Cross-check a (merged) source document and apply every default. Throws LbConfigError with all issues. */
export function buildModel(document: SourceDocument): LoadBalancerModel {
  const issues: LbIssue[] = [];
  const loadBalancer = buildLoadBalancer(document.loadBalancer, issues);
  const lbOrigin = document.loadBalancer?.origin ?? document.origin;
  // Spare disabled server slots let the controller add backends through the runtime API without a
  // reload; a handful per service covers ordinary scaling, and `spare_slots` raises or removes them.
  const defaultSpareSlots = document.loadBalancer?.input.spare_slots ?? DEFAULT_SPARE_SLOTS;
  const entries = [...document.services].sort((a, b) => a.name.localeCompare(b.name));
  const services: ServiceModel[] = [];
  const seen = new Map<string, string>();
  for (const entry of entries) {
    const other = seen.get(entry.name);
    if (other !== undefined) {
      issues.push({ origin: entry.origin, path: entry.naming.prefix, message: `service ${entry.name} is also declared in ${other}` });
      continue;
    }
    seen.set(entry.name, entry.origin);
    const service = buildService(entry, defaultSpareSlots, issues);
    if (service === null) continue;
    const fail = (field: string, message: string) => issues.push({ origin: entry.origin, path: displayPath(entry.naming, field), message });
    if (service.redirectHttps && loadBalancer.httpsPort === null) fail('redirect_https', 'needs an https frontend (load_balancer certificates)');
    if (service.hsts !== null && loadBalancer.httpsPort === null) fail('hsts', 'needs an https frontend (load_balancer certificates)');
    if (service.mode === 'http' && loadBalancer.httpPorts.length === 0 && loadBalancer.httpsPort === null) {
      fail('mode', 'an http service needs load_balancer.http_ports or an https frontend');
    }
    services.push(service);
  }
  const byName = new Map(entries.map((e) => [e.name, e]));
  const externalPortPath = (service: ServiceModel) => {
    const entry = byName.get(service.name);
    return entry === undefined ? `services.${service.name}.external_port` : displayPath(entry.naming, 'external_port');
  };
  checkPorts(loadBalancer, document.loadBalancer, lbOrigin, services, externalPortPath, issues);
  for (const conflict of findRouteConflicts(services)) {
    const [first, second] = conflict.services;
    const entry = byName.get(second);
    const field = conflict.what.startsWith('default') ? '' : conflict.what.startsWith('any host') ? 'virtual_paths' : 'virtual_hosts';
    issues.push({
      origin: entry?.origin ?? document.origin,
      path: entry === undefined ? `services.${second}` : displayPath(entry.naming, field),
      message: `services ${first} and ${second} both claim ${conflict.what}`,
    });
  }
  if (issues.length > 0) throw new LbConfigError(issues);
  return { loadBalancer, services };
}

