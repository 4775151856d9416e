/**
 * kontena.yml compatibility: the Kontena Load Balancer was configured by environment variables on the
 * balanced services (KONTENA_LB_*) and on the balancer service itself (STATS_PASSWORD, SSL_CERTS, ...).
 * These functions map them onto Quayside's snake_case keys, then run the same schemas, and report errors
 * under the variable's own name (`services.web.environment.KONTENA_LB_BALANCE`).
 *
 * There is no orchestrator here, so a balanced service lists its instances under a `backends:` key
 * (same syntax as Quayside's format); a service is balanced only when it `links` to the balancer, as in Kontena.
 */
import { parseLoadBalancerEntry, parseServiceEntry, type LoadBalancerEntry, type ServiceEntry, type SourceDocument } from '../document.js';
import { LbConfigError, type LbIssue } from '../errors.js';
import { splitPemBundles } from '../pem.js';

/** Service-level variables -> Quayside key. */
const SERVICE_KEYS: Readonly<Record<string, string>> = {
  KONTENA_LB_MODE: 'mode',
  KONTENA_LB_BALANCE: 'balance',
  KONTENA_LB_INTERNAL_PORT: 'internal_port',
  KONTENA_LB_EXTERNAL_PORT: 'external_port',
  KONTENA_LB_VIRTUAL_HOSTS: 'virtual_hosts',
  KONTENA_LB_VIRTUAL_PATH: 'virtual_paths',
  KONTENA_LB_KEEP_VIRTUAL_PATH: 'keep_virtual_path',
  KONTENA_LB_CUSTOM_SETTINGS: 'custom_settings',
  KONTENA_LB_COOKIE: 'cookie',
  KONTENA_LB_BASIC_AUTH_SECRETS: 'basic_auth',
};

/** Balancer-level variables -> Quayside key (under load_balancer). */
const BALANCER_KEYS: Readonly<Record<string, string>> = {
  KONTENA_LB_HEALTH_URI: 'health_uri',
  STATS_PASSWORD: 'stats.password',
  SSL_CERTS: 'certificates',
  KONTENA_LB_SSL_CIPHERS: 'ssl_ciphers',
  KONTENA_LB_CUSTOM_SETTINGS: 'defaults',
};

/** The variables that mark a service as a balancer even when its image is not kontena/lb. */
export const BALANCER_ONLY_KEYS: readonly string[] = ['KONTENA_LB_HEALTH_URI', 'STATS_PASSWORD', 'SSL_CERTS', 'KONTENA_LB_SSL_CIPHERS'];

const PORT_FIELDS = new Set(['internal_port', 'external_port']);
const BOOL_FIELDS = new Set(['keep_virtual_path']);

/** `environment:` as a list of `KEY=VALUE` or as a mapping -> a string map (YAML scalars stringified). */
export function environmentMap(raw: unknown, origin: string, path: string, issues: LbIssue[]): Record<string, string> {
  const env: Record<string, string> = {};
  if (raw === undefined || raw === null) return env;
  if (Array.isArray(raw)) {
    raw.forEach((item, index) => {
      const match = typeof item === 'string' ? /^([^=]+)=([\s\S]*)$/.exec(item) : null;
      if (match === null) issues.push({ origin, path: `${path}.${index}`, message: 'must be KEY=VALUE' });
      else env[(match[1] ?? '').trim()] = match[2] ?? '';
    });
  } else if (typeof raw === 'object') {
    for (const [key, value] of Object.entries(raw)) {
      if (value === null || value === undefined) env[key] = '';
      else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') env[key] = String(value);
      else issues.push({ origin, path: `${path}.${key}`, message: 'must be a string, number or boolean' });
    }
  } else {
    issues.push({ origin, path, message: 'must be a list of KEY=VALUE or a mapping' });
  }
  return env;
}

/** Kontena values are strings: integers become numbers (a non-integer stays a string, which the schema refuses). */
function convert(field: string, value: string): unknown {
  if (PORT_FIELDS.has(field)) return /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (BOOL_FIELDS.has(field)) {
    const lowered = value.trim().toLowerCase();
    return lowered === 'true' ? true : lowered === 'false' || lowered === '' ? false : value;
  }
  return value;
}

/**
 * A balanced service's KONTENA_LB_* variables (plus `backends`) -> a ServiceEntry. Other variables belong to
 * the application and are ignored; an unknown KONTENA_LB_* variable is an error (a typo would go unnoticed).
 */
export function kontenaServiceEntry(
  name: string,
  env: Readonly<Record<string, string>>,
  backends: unknown,
  origin: string,
  issues: LbIssue[],
): ServiceEntry | null {
  const prefix = `services.${name}`;
  const raw: Record<string, unknown> = {};
  const rename: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    const field = SERVICE_KEYS[key];
    if (field !== undefined) {
      raw[field] = convert(field, value);
      rename[field] = `environment.${key}`;
    } else if (key.startsWith('KONTENA_LB_')) {
      issues.push({ origin, path: `${prefix}.environment.${key}`, message: 'unknown Kontena load balancer variable' });
    }
  }
  if (backends !== undefined) raw.backends = backends;
  return parseServiceEntry(raw, name, origin, { prefix, rename }, issues);
}

/** Parse the `ports:` of the balancer service: container port 80 -> http, 443 -> https, 1000 -> stats. */
function balancerPorts(raw: unknown, origin: string, path: string, issues: LbIssue[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (raw === undefined || raw === null) return out;
  if (!Array.isArray(raw)) {
    issues.push({ origin, path, message: 'must be a list of "[ip:]host_port:container_port"' });
    return out;
  }
  const httpPorts: number[] = [];
  raw.forEach((item, index) => {
    const match = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d+)(?::(\d+))?(?:\/tcp)?$/.exec(String(item));
    if (match === null) {
      issues.push({ origin, path: `${path}.${index}`, message: 'must be "[ip:]host_port:container_port"' });
      return;
    }
    const host = Number(match[2]);
    const container = match[3] === undefined ? host : Number(match[3]);
    if (match[1] !== undefined) out.bind_address = match[1];
    if (container === 80) httpPorts.push(host);
    else if (container === 443) out.https_port = host;
    else if (container === 1000) out.stats = { ...(out.stats as object | undefined), port: host };
  });
  if (httpPorts.length > 0) out.http_ports = httpPorts;
  return out;
}

/** The balancer service's variables and ports -> a LoadBalancerEntry. */
export function kontenaBalancerEntry(
  name: string,
  env: Readonly<Record<string, string>>,
  ports: unknown,
  origin: string,
  issues: LbIssue[],
): LoadBalancerEntry | null {
  const prefix = `services.${name}`;
  const raw: Record<string, unknown> = { name, ...balancerPorts(ports, origin, `${prefix}.ports`, issues) };
  const rename: Record<string, string> = {
    http_ports: 'ports',
    https_port: 'ports',
    bind_address: 'ports',
    stats: 'environment.STATS_PASSWORD',
    'stats.port': 'ports',
    'stats.password': 'environment.STATS_PASSWORD',
  };
  for (const [key, value] of Object.entries(env)) {
    const field = BALANCER_KEYS[key];
    if (field === undefined) {
      if (key.startsWith('KONTENA_LB_')) issues.push({ origin, path: `${prefix}.environment.${key}`, message: 'unknown Kontena load balancer variable' });
      continue;
    }
    rename[field] = `environment.${key}`;
    if (field === 'stats.password') raw.stats = { ...(raw.stats as object | undefined), password: value };
    else if (field === 'certificates') raw.certificates = splitPemBundles(value).map((pem) => ({ pem }));
    else raw[field] = value;
  }
  return parseLoadBalancerEntry(raw, origin, { prefix, rename }, issues);
}

const SERVICE_KEYS_IGNORED = new Set([
  'image', 'build', 'command', 'entrypoint', 'cpus', 'cpu_shares', 'mem_limit', 'memswap_limit', 'shm_size',
  'env_file', 'volumes', 'volumes_from', 'instances', 'stateful', 'deploy', 'hooks', 'affinity', 'net',
  'network_mode', 'pid', 'privileged', 'cap_add', 'cap_drop', 'log_driver', 'log_opt', 'user', 'extends',
  'external_links', 'health_check', 'stop_grace_period', 'stop_signal', 'read_only', 'devices', 'depends_on',
  'certificates', 'expose', 'hostname', 'domainname', 'working_dir', 'labels',
]);
const SERVICE_KEYS_USED = new Set(['environment', 'links', 'ports', 'backends']);
const TOP_LEVEL_KEYS = new Set(['version', 'stack', 'description', 'expose', 'variables', 'volumes', 'services']);

function isBalancer(service: Record<string, unknown>, env: Record<string, string>): boolean {
  const image = typeof service.image === 'string' ? service.image : '';
  return /(^|\/)kontena\/lb(:|@|$)/.test(image) || BALANCER_ONLY_KEYS.some((key) => key in env);
}

function linkTargets(raw: unknown): string[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter((link): link is string => typeof link === 'string').map((link) => link.split(':')[0]?.trim() ?? '');
}

/**
 * Parse a kontena.yml-style document. `lbName` picks the balancer when the file declares several.
 * Throws LbConfigError listing every issue.
 */
export function parseKontenaDocument(raw: unknown, origin: string, lbName?: string): SourceDocument {
  const issues: LbIssue[] = [];
  const top = raw as Record<string, unknown>;
  for (const key of Object.keys(top)) if (!TOP_LEVEL_KEYS.has(key)) issues.push({ origin, path: key, message: 'unknown key' });
  const services = top.services;
  if (typeof services !== 'object' || services === null || Array.isArray(services)) {
    throw new LbConfigError([...issues, { origin, path: 'services', message: 'must be a mapping of service name to definition' }]);
  }
  const definitions = new Map<string, { def: Record<string, unknown>; env: Record<string, string> }>();
  for (const [name, value] of Object.entries(services)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push({ origin, path: `services.${name}`, message: 'must be a mapping' });
      continue;
    }
    const def = value as Record<string, unknown>;
    for (const key of Object.keys(def)) {
      if (key === 'secrets') {
        issues.push({ origin, path: `services.${name}.secrets`, message: 'vault secrets are not resolved by quayside: put the value under environment' });
      } else if (!SERVICE_KEYS_USED.has(key) && !SERVICE_KEYS_IGNORED.has(key)) {
        issues.push({ origin, path: `services.${name}.${key}`, message: 'unknown key' });
      }
    }
    definitions.set(name, { def, env: environmentMap(def.environment, origin, `services.${name}.environment`, issues) });
  }
  const balancers = [...definitions].filter(([, { def, env }]) => isBalancer(def, env)).map(([name]) => name);
  let balancer: string | undefined;
  if (lbName !== undefined) {
    if (!balancers.includes(lbName)) issues.push({ origin, path: `services.${lbName}`, message: 'is not a load balancer service (image kontena/lb)' });
    else balancer = lbName;
  } else if (balancers.length === 1) balancer = balancers[0];
  else if (balancers.length === 0) issues.push({ origin, path: 'services', message: 'no load balancer service (image kontena/lb) found' });
  else issues.push({ origin, path: 'services', message: `several load balancer services (${balancers.join(', ')}): choose one` });

  let loadBalancer: LoadBalancerEntry | null = null;
  const entries: ServiceEntry[] = [];
  if (balancer !== undefined) {
    const lb = definitions.get(balancer);
    if (lb !== undefined) loadBalancer = kontenaBalancerEntry(balancer, lb.env, lb.def.ports, origin, issues);
    for (const [name, { def, env }] of definitions) {
      if (balancers.includes(name) || !linkTargets(def.links).includes(balancer)) continue;
      const entry = kontenaServiceEntry(name, env, def.backends, origin, issues);
      if (entry !== null) entries.push(entry);
    }
  }
  if (issues.length > 0) throw new LbConfigError(issues);
  return { origin, loadBalancer, services: entries };
}
