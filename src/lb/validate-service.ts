/**
 * One service entry -> ServiceModel: defaults applied, per-service cross checks (mode-specific keys, basic-auth
 * lines, backends). Checks that span services (routes, ports) are in validate.ts.
 */
import { isIP } from 'node:net';
import type { ServiceEntry } from './document.js';
import type { LbIssue } from './errors.js';
import {
  DEFAULT_COOKIE,
  defaultServerName,
  type BackendServer,
  type BasicAuthUser,
  type HealthCheck,
  type Hsts,
  type ServiceModel,
} from './model.js';
import { normaliseHost, normalisePath } from './routing.js';
import { displayPath } from './schema.js';

const HSTS_DEFAULT_MAX_AGE = 31_536_000;
const SERVER_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
const SLOT_NAME = /^slot-\d+$/;
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const USER_NAME = /^[A-Za-z0-9._@+-]+$/;

/**
 * crypt(3) hashes HAProxy can check: MD5 ($1$), SHA-256 ($5$), SHA-512 ($6$), bcrypt ($2a$/$2b$/$2y$) and
 * traditional DES (13 characters). Anything else would make HAProxy refuse every login, silently.
 */
const CRYPT_HASH = [
  /^\$1\$[./0-9A-Za-z]{1,8}\$[./0-9A-Za-z]{22}$/,
  /^\$5\$(rounds=\d+\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{43}$/,
  /^\$6\$(rounds=\d+\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$/,
  /^\$2[aby]\$\d{2}\$[./0-9A-Za-z]{53}$/,
  /^[./0-9A-Za-z]{13}$/,
];

/** Whether `hash` has the form of a crypt(3) hash HAProxy understands. */
export function isCryptHash(hash: string): boolean {
  return CRYPT_HASH.some((re) => re.test(hash));
}

/** Parse `user NAME password HASH` / `user NAME insecure-password PASS`; returns a user or an error message. */
export function parseBasicAuthLine(line: string): BasicAuthUser | string {
  const words = line.trim().split(/\s+/);
  if (words.length !== 4 || words[0] !== 'user') {
    return `"${line}" must be "user NAME password CRYPT_HASH" or "user NAME insecure-password PASSWORD"`;
  }
  const [, name = '', kind = '', secret = ''] = words;
  if (!USER_NAME.test(name)) return `user name "${name}" must match [A-Za-z0-9._@+-]+`;
  if (kind === 'password') {
    if (!isCryptHash(secret)) return `user ${name}: the password is not a crypt(3) hash ($1$, $5$, $6$, $2b$/$2y$ or 13-character DES)`;
    return { name, kind, secret };
  }
  if (kind === 'insecure-password') return { name, kind, secret };
  return `user ${name}: expected "password" or "insecure-password", got "${kind}"`;
}

/** Split `address`, `address:port`, `[v6]:port` or a bare IPv6 address. */
function splitAddress(text: string): { address: string; port: number | null } | null {
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(text);
  if (bracketed !== null) return { address: bracketed[1] ?? '', port: bracketed[2] === undefined ? null : Number(bracketed[2]) };
  if (isIP(text) === 6) return { address: text, port: null };
  const hostPort = /^([^:]+)(?::(\d+))?$/.exec(text);
  if (hostPort === null) return null;
  return { address: hostPort[1] ?? '', port: hostPort[2] === undefined ? null : Number(hostPort[2]) };
}

function buildBackends(entry: ServiceEntry, internalPort: number, issues: LbIssue[]): BackendServer[] {
  const out: BackendServer[] = [];
  const byName = new Map<string, number>();
  const byAddress = new Map<string, number>();
  (entry.input.backends ?? []).forEach((raw, index) => {
    const at = (field: string) => displayPath(entry.naming, `backends.${index}${field === '' ? '' : `.${field}`}`);
    const fail = (field: string, message: string) => issues.push({ origin: entry.origin, path: at(field), message });
    let address: string;
    let port: number | null;
    let name: string | undefined;
    if (typeof raw === 'string') {
      const split = splitAddress(raw.trim());
      if (split === null) return fail('', `"${raw}" is not address[:port]`);
      ({ address, port } = split);
    } else {
      ({ address, name } = raw);
      port = raw.port ?? null;
    }
    if (port !== null && !(Number.isInteger(port) && port >= 1 && port <= 65535)) return fail('port', 'must be a port number (1-65535)');
    if (isIP(address) === 0 && !HOSTNAME.test(address)) return fail('address', `"${address}" is not an IP address or host name`);
    const finalPort = port ?? internalPort;
    const finalName = name ?? defaultServerName(address, finalPort);
    if (!SERVER_NAME.test(finalName)) return fail('name', 'must match [A-Za-z0-9_.:-]{1,100}');
    if (SLOT_NAME.test(finalName)) return fail('name', `"${finalName}" is reserved for spare slots`);
    const key = `${address}|${finalPort}`;
    const sameAddress = byAddress.get(key);
    if (sameAddress !== undefined) return fail('', `same address and port as backends.${sameAddress}`);
    const sameName = byName.get(finalName);
    if (sameName !== undefined) return fail('name', `duplicate backend name "${finalName}" (also backends.${sameName})`);
    byName.set(finalName, index);
    byAddress.set(key, index);
    out.push({ name: finalName, address, port: finalPort });
  });
  return out;
}

/** Turn one service entry into its model; appends issues and returns null when the service is unusable. */
export function buildService(entry: ServiceEntry, defaultSpareSlots: number, issues: LbIssue[]): ServiceModel | null {
  const before = issues.length;
  const input = entry.input;
  const fail = (field: string, message: string) => issues.push({ origin: entry.origin, path: displayPath(entry.naming, field), message });
  const mode = input.mode ?? 'http';

  if (mode === 'tcp') {
    if (input.external_port === undefined) fail('external_port', 'is required for a tcp service (the port its frontend listens on)');
    const httpOnly = ['virtual_hosts', 'virtual_paths', 'keep_virtual_path', 'cookie', 'basic_auth', 'redirect_https', 'hsts'] as const;
    for (const key of httpOnly) if (input[key] !== undefined) fail(key, 'is only for http services');
    if (typeof input.health_check === 'object' && (input.health_check.path !== undefined || input.health_check.expect_status !== undefined)) {
      fail('health_check', 'a tcp service checks connections only: no path or expect_status');
    }
  } else if (input.external_port !== undefined) {
    fail('external_port', 'is only for tcp services (http services are served on the balancer\'s http/https ports)');
  }

  const virtualHosts: string[] = [];
  for (const raw of input.virtual_hosts ?? []) {
    const host = normaliseHost(raw);
    if (!host.ok) fail('virtual_hosts', host.message);
    else if (!virtualHosts.includes(host.host)) virtualHosts.push(host.host);
  }
  const virtualPaths: string[] = [];
  for (const raw of input.virtual_paths ?? []) {
    const path = normalisePath(raw);
    if (!path.ok) fail('virtual_paths', path.message);
    else if (!virtualPaths.includes(path.path)) virtualPaths.push(path.path);
  }

  let cookie: string | null = null;
  if (input.cookie === true || input.cookie === '') cookie = DEFAULT_COOKIE;
  else if (typeof input.cookie === 'string') {
    cookie = input.cookie.trim();
    if (/[\r\n]/.test(cookie)) fail('cookie', 'must be one line');
  }

  const basicAuth: BasicAuthUser[] = [];
  for (const line of input.basic_auth ?? []) {
    const user = parseBasicAuthLine(line);
    if (typeof user === 'string') fail('basic_auth', user);
    else if (basicAuth.some((u) => u.name === user.name)) fail('basic_auth', `user ${user.name} is declared twice`);
    else basicAuth.push(user);
  }

  let healthCheck: HealthCheck | null = null;
  if (input.health_check !== undefined && input.health_check !== false) {
    const given = input.health_check === true ? {} : input.health_check;
    let path: string | null = null;
    if (mode === 'http') {
      path = given.path ?? '/';
      if (!/^\/[\x21-\x7e]*$/.test(path)) fail('health_check.path', 'must be a path starting with / without spaces');
    }
    healthCheck = {
      path,
      intervalMs: given.interval ?? 2_000,
      expectStatus: given.expect_status ?? null,
      rise: given.rise ?? 2,
      fall: given.fall ?? 3,
    };
    if (healthCheck.intervalMs < 100) fail('health_check.interval', 'must be at least 100ms');
  }

  if (input.send_proxy === true && input.send_proxy_v2 === true) fail('send_proxy_v2', 'send_proxy and send_proxy_v2 are exclusive');
  const sendProxy = input.send_proxy_v2 === true ? 'v2' : input.send_proxy === true ? 'v1' : null;

  let hsts: Hsts | null = null;
  if (input.hsts === true) hsts = { maxAgeSeconds: HSTS_DEFAULT_MAX_AGE, includeSubDomains: false, preload: false };
  else if (typeof input.hsts === 'object') {
    hsts = {
      maxAgeSeconds: input.hsts.max_age ?? HSTS_DEFAULT_MAX_AGE,
      includeSubDomains: input.hsts.include_subdomains ?? false,
      preload: input.hsts.preload ?? false,
    };
    if (hsts.preload && (!hsts.includeSubDomains || hsts.maxAgeSeconds < HSTS_DEFAULT_MAX_AGE)) {
      fail('hsts.preload', 'preload requires include_subdomains and max_age of at least one year');
    }
  }

  const backends = buildBackends(entry, input.internal_port, issues);
  if (issues.length > before) return null;
  return {
    name: entry.name,
    origin: entry.origin,
    mode,
    balance: input.balance ?? 'roundrobin',
    internalPort: input.internal_port,
    externalPort: mode === 'tcp' ? (input.external_port ?? null) : null,
    virtualHosts,
    virtualPaths,
    keepVirtualPath: input.keep_virtual_path ?? false,
    cookie,
    basicAuth,
    healthCheck,
    sendProxy,
    redirectHttps: input.redirect_https ?? false,
    hsts,
    customSettings: input.custom_settings ?? [],
    backends,
    spareSlots: input.spare_slots ?? defaultSpareSlots,
  };
}
