/**
 * The zod schemas of what a user writes (snake_case, as in YAML, etcd values and the Kontena environment once
 * mapped). They check the shape of each key; cross checks between keys and between services live in
 * validate.ts, which turns these inputs into the model.
 */
import { z } from 'zod';
import type { LbIssue } from './errors.js';

const PORT_MESSAGE = 'must be a port number (1-65535)';
const LINE_SECTION_KEYWORDS = /^(global|defaults|frontend|backend|listen|userlist|peers|resolvers|mailers|program|http-errors|ring|cache)\b/;

const port = z
  .number({ error: PORT_MESSAGE })
  .int({ error: PORT_MESSAGE })
  .min(1, { error: PORT_MESSAGE })
  .max(65535, { error: PORT_MESSAGE });

const bool = z.boolean({ error: 'must be true or false' });

/** A duration in HAProxy's units, or a plain number of milliseconds; normalised to milliseconds. */
const duration = z
  .custom<number | string>(
    (value) =>
      (typeof value === 'number' && Number.isInteger(value) && value >= 0) ||
      (typeof value === 'string' && /^\d+(us|ms|s|m|h|d)?$/.test(value)),
    { error: 'must be a duration such as 500ms, 30s, 5m, 1h (or a number of milliseconds)' },
  )
  .transform((value) => durationToMs(value));

/** A list given as a YAML sequence or as one string split by `separator` (Kontena style). */
function listOf(separator: RegExp, what: string) {
  return z
    .union([z.array(z.string()), z.string()], { error: `must be a list of ${what} or one ${separator.source === ',' ? 'comma' : 'newline'}-separated string` })
    .transform((value) =>
      (typeof value === 'string' ? value.split(separator) : value).map((item) => item.trim()).filter((item) => item !== ''),
    );
}

/** Verbatim HAProxy lines: one directive each, never a section header (that would swallow what follows). */
const configLines = listOf(/\r?\n/, 'HAProxy lines').superRefine((lines, ctx) => {
  lines.forEach((line, index) => {
    if (/[\r\n]/.test(line)) ctx.addIssue({ code: 'custom', path: [index], message: 'must be a single line' });
    else if (LINE_SECTION_KEYWORDS.test(line)) {
      ctx.addIssue({ code: 'custom', path: [index], message: `must not open a new section ("${line}")` });
    }
  });
});

const backendObject = z.strictObject({
  name: z.string().optional(),
  address: z.string({ error: 'must be a host name or IP address' }).min(1, { error: 'must not be empty' }),
  port: port.optional(),
});

/** `address`, `address:port` or `[v6]:port` as one string, or `{ name?, address, port? }`. */
export const backendInputSchema = z.union([z.string().min(1), backendObject], {
  error: 'must be "address[:port]" or { name?, address, port? }',
});

const healthCheck = z.strictObject({
  path: z.string().optional(),
  interval: duration.optional(),
  expect_status: z.number().int().min(100).max(599, { error: 'must be an HTTP status (100-599)' }).optional(),
  rise: z.number().int().min(1).max(100).optional(),
  fall: z.number().int().min(1).max(100).optional(),
});

const hsts = z.union(
  [
    bool,
    z.strictObject({
      max_age: z.number().int().nonnegative().optional(),
      include_subdomains: bool.optional(),
      preload: bool.optional(),
    }),
  ],
  { error: 'must be true, false or { max_age, include_subdomains, preload }' },
);

/** One service as written by the user. */
export const serviceInputSchema = z.strictObject({
  mode: z.enum(['http', 'tcp'], { error: 'must be one of http, tcp' }).optional(),
  balance: z
    .preprocess(
      (value) => (value === 'leastcon' ? 'leastconn' : value),
      z.enum(['roundrobin', 'source', 'leastconn'], { error: 'must be one of roundrobin, source, leastconn' }),
    )
    .optional(),
  internal_port: port,
  external_port: port.optional(),
  virtual_hosts: listOf(/,/, 'host names').optional(),
  virtual_paths: listOf(/,/, 'paths').optional(),
  keep_virtual_path: bool.optional(),
  cookie: z.union([bool, z.string()], { error: 'must be true, false or the arguments of HAProxy\'s "cookie"' }).optional(),
  basic_auth: listOf(/\r?\n/, 'userlist lines').optional(),
  health_check: z.union([bool, healthCheck], { error: 'must be true, false or { path, interval, expect_status, rise, fall }' }).optional(),
  send_proxy: bool.optional(),
  send_proxy_v2: bool.optional(),
  redirect_https: bool.optional(),
  hsts: hsts.optional(),
  custom_settings: configLines.optional(),
  backends: z.array(backendInputSchema, { error: 'must be a list of backends' }).optional(),
  spare_slots: z.number().int().min(0).max(1000, { error: 'must be 0-1000' }).optional(),
});
export type ServiceInput = z.output<typeof serviceInputSchema>;

const certificate = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, { error: 'must match [a-z0-9][a-z0-9._-]*' }).optional(),
  pem: z.string({ error: 'must be the PEM text (certificate then private key) or the path of a file holding it' }),
});

const stats = z.strictObject({
  enabled: bool.optional(),
  bind_address: z.string().min(1).optional(),
  port: port.optional(),
  user: z.string().regex(/^[A-Za-z0-9._-]+$/, { error: 'must match [A-Za-z0-9._-]+' }).optional(),
  password: z.string().optional(),
  uri: z.string().regex(/^\/\S*$/, { error: 'must be a path starting with /' }).optional(),
});

const timeouts = z.strictObject({
  connect: duration.optional(),
  client: duration.optional(),
  server: duration.optional(),
  http_request: duration.optional(),
  http_keep_alive: duration.optional(),
  queue: duration.optional(),
  tunnel: duration.optional(),
  check: duration.optional(),
  client_fin: duration.optional(),
  server_fin: duration.optional(),
});

/** The balancer-level settings as written by the user. */
export const loadBalancerInputSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, { error: 'must match [A-Za-z0-9._-]+' }).optional(),
  bind_address: z.string().regex(/^(\*|[0-9A-Fa-f.:]+)$/, { error: 'must be *, an IPv4 or an IPv6 address' }).optional(),
  http_ports: z.union([port, z.array(port)], { error: `must be a list of ports (${PORT_MESSAGE})` }).transform((v) => (Array.isArray(v) ? v : [v])).optional(),
  https_port: z.union([port, z.null()], { error: PORT_MESSAGE }).optional(),
  accept_proxy: bool.optional(),
  certificates: z.array(certificate, { error: 'must be a list of { name?, pem } (pem: the PEM text or a file path)' }).optional(),
  strict_sni: bool.optional(),
  ssl_ciphers: z.string().regex(/^[A-Za-z0-9_:+!@.=-]+$/, { error: 'must be an OpenSSL cipher list' }).optional(),
  ssl_ciphersuites: z.string().regex(/^[A-Za-z0-9_:]+$/, { error: 'must be an OpenSSL TLS 1.3 ciphersuite list' }).optional(),
  ssl_min_version: z.enum(['TLSv1.2', 'TLSv1.3'], { error: 'must be one of TLSv1.2, TLSv1.3' }).optional(),
  health_uri: z.union([z.string().regex(/^\/\S*$/), z.null()], { error: 'must be a path starting with /' }).optional(),
  stats: z.union([stats, z.null()]).optional(),
  http_ignore_probes: bool.optional(),
  hard_stop_after: duration.optional(),
  maxconn: z.number().int().min(1).max(10_000_000, { error: 'must be 1-10000000' }).optional(),
  timeouts: timeouts.optional(),
  log: z.union([z.string().regex(/^[^\r\n]+$/), z.null()], { error: 'must be one HAProxy log target line' }).optional(),
  global: configLines.optional(),
  defaults: configLines.optional(),
  spare_slots: z.number().int().min(0).max(1000, { error: 'must be 0-1000' }).optional(),
});
export type LoadBalancerInput = z.output<typeof loadBalancerInputSchema>;

/** How issue paths are shown: a prefix (`services.web`) and renamings of first-level keys (Kontena env names). */
export interface KeyNaming {
  prefix: string;
  rename?: Readonly<Record<string, string>>;
}

/** Show `field` (a snake_case key, possibly dotted) under `naming`. */
export function displayPath(naming: KeyNaming, field: string): string {
  const parts = field.split('.').filter((part) => part !== '');
  let shown = parts.join('.');
  // The longest renamed prefix wins: `stats.password` may map to one environment variable on its own.
  for (let length = parts.length; length > 0; length -= 1) {
    const renamed = naming.rename?.[parts.slice(0, length).join('.')];
    if (renamed !== undefined) {
      shown = [renamed, ...parts.slice(length)].join('.');
      break;
    }
  }
  return [naming.prefix, shown].filter((part) => part !== '').join('.');
}

/** Parse `raw` with `schema`; on failure return issues located at `origin` + `naming`. */
export function parseWith<T>(
  schema: z.ZodType<T>,
  raw: unknown,
  origin: string,
  naming: KeyNaming,
): { ok: true; value: T } | { ok: false; issues: LbIssue[] } {
  const result = schema.safeParse(raw);
  if (result.success) return { ok: true, value: result.data };
  const issues: LbIssue[] = [];
  for (const issue of result.error.issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        issues.push({ origin, path: displayPath(naming, base === '' ? key : `${base}.${key}`), message: 'unknown key' });
      }
    } else if (issue.code === 'invalid_type' && valueAt(raw, issue.path) === undefined) {
      issues.push({ origin, path: displayPath(naming, base), message: 'is required' });
    } else {
      issues.push({ origin, path: displayPath(naming, base), message: issue.message });
    }
  }
  return { ok: false, issues };
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let value = raw;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Convert an HAProxy-style duration (`30s`, `500ms`, `2m`, a number of ms) to milliseconds. */
export function durationToMs(value: number | string): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+)(us|ms|s|m|h|d)?$/.exec(value);
  if (match === null) throw new Error(`not a duration: ${value}`);
  const amount = Number(match[1]);
  const unit = match[2] ?? 'ms';
  const factor: Record<string, number> = { us: 0.001, ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  return Math.ceil(amount * (factor[unit] ?? 1));
}
