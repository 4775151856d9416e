import { z } from 'zod';
import { parseNetwork } from './networks.js';

/**
 * The one schema of config.yaml: Quay's key names, types and defaults, so that an existing Quay
 * configuration starts Quayside. Keys Quayside does not read are not here (see quay-keys.ts); the loader
 * reports them instead of passing them on.
 */

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
const SIZE_RE = /^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$/i;

/** Parses Quay's size form ('20G', '500M', '1024K', '12345') into bytes (binary units); undefined when malformed. */
export function parseSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  const match = SIZE_RE.exec(value);
  if (match === null) return undefined;
  const bytes = Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toUpperCase()] ?? Number.NaN);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

const sizeSchema = z
  .union([z.string(), z.number()], { error: 'expected a size such as 20G, 500M, 1024K or a number of bytes' })
  .transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a positive size such as 20G, 500M, 1024K or a number of bytes, got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return bytes;
});

/** host, host:port, [ipv6] or [ipv6]:port: what Quay puts in URLs it builds (no scheme, no path). */
const HOSTNAME_RE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3}))?$/;

const hostnameSchema = z.string().regex(HOSTNAME_RE, {
  message: 'expected host[:port] without scheme or path, e.g. quay.example.com or quay.example.com:8443',
});

/** SQLAlchemy-style URIs as Quay writes them: postgresql://, mysql+pymysql://, sqlite:///path. */
const dbUriSchema = z.string().regex(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/\S*$/, {
  message: 'expected a database URI such as postgresql://user:password@host/db or sqlite:///path/to/file.db',
});

/** Location names become object keys and log fields; this keeps out `__proto__` and other surprises. */
const locationName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
  message: 'expected a storage location name of letters, digits, "_", "." or "-" (at most 64)',
});

/** An IPv4 or IPv6 network in CIDR form (a bare address is its own /32 or /128). */
const cidrSchema = z.string().refine((value) => parseNetwork(value) !== undefined, {
  message: 'expected a network such as 10.0.0.0/8, 192.168.1.7 or fd00::/8',
});

/** One DISTRIBUTED_STORAGE_CONFIG entry: [driverName, params], e.g. ['LocalStorage', { storage_path: '/data' }]. */
const storageLocationSchema = z.tuple([z.string().min(1), z.record(z.string(), z.unknown())]);

/**
 * HEALTH_CHECKER: [name, params] as in Quay. RDSAwareHealthCheck (and its Quay alias ProductionHealthCheck) takes
 * Quay's access_key, secret_key, region, db_instance (Quay's defaults), plus endpoint (Quayside key: the RDS API
 * URL, for VPC endpoints and tests). Without keys the SDK's default credential chain applies.
 */
const healthCheckerSchema = z.union(
  [
    z.tuple([z.literal('LocalHealthCheck'), z.object({}).strict().nullable().transform(() => ({}))]),
    z.tuple([
      z.enum(['RDSAwareHealthCheck', 'ProductionHealthCheck']),
      z
        .object({
          access_key: z.string().min(1).optional(),
          secret_key: z.string().min(1).optional(),
          region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { message: 'expected an AWS region such as us-east-1' }).default('us-east-1'),
          db_instance: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,62}$/, { message: 'expected an RDS DB instance identifier' }).default('quay'),
          endpoint: z.url({ protocol: /^https?$/ }).optional(),
        })
        .strict()
        .refine((p) => (p.access_key === undefined) === (p.secret_key === undefined), { message: 'access_key and secret_key go together' }),
    ]),
  ],
  { error: 'expected [LocalHealthCheck, {}] or [RDSAwareHealthCheck, {access_key, secret_key, region, db_instance}]' },
);

/** A Redis endpoint as Quay writes one (BUILDLOGS_REDIS, USER_EVENTS_REDIS, the cache's primary). */
const redisEndpointSchema = z
  .object(
    {
      host: z.string().regex(/^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]+\]?)$/, { message: 'expected a Redis host name or address' }),
      port: z.number({ error: 'expected a port number from 1 to 65535' }).int().min(1).max(65535).default(6379),
      password: z.string().nullable().optional(),
      ssl: z.boolean().default(false),
      db: z.number().int().min(0).max(15).default(0),
    },
    { error: 'expected {host, port, password, ssl}' },
  )
  .strict();

export type RedisEndpointConfig = z.infer<typeof redisEndpointSchema>;

/** DATA_MODEL_CACHE_CONFIG: Quay's engine names; redis takes its endpoint under redis_config.primary. */
const dataModelCacheSchema = z.discriminatedUnion(
  'engine',
  [
    z.object({ engine: z.literal('none') }).passthrough(),
    z.object({ engine: z.literal('inmemory') }).passthrough(),
    z.object({ engine: z.literal('redis'), redis_config: z.object({ primary: redisEndpointSchema }).passthrough() }).passthrough(),
  ],
  { error: 'expected {engine: redis | inmemory | none}; redis needs redis_config: {primary: {host, port}}' },
);

export type StorageLocationConfig = [string, Record<string, unknown>];

/** Quay's duration form (util/timedeltastring.py): a whole number and one of s, m, h, d, w. */
const durationSchema = z.string({ error: 'expected a duration such as 2w, 7d, 24h, 30m or 0s' }).regex(/^[0-9]+[smhdw]$/, 'a number and one of s, m, h, d, w (e.g. 2w)');

/** Quay's TAG_EXPIRATION_OPTIONS when the configuration has none. */
export const QUAY_TAG_EXPIRATION_OPTIONS: readonly string[] = ['0s', '1d', '1w', '2w', '4w'];

const objectSchema = z.object({
  SERVER_HOSTNAME: hostnameSchema.optional(),
  PREFERRED_URL_SCHEME: z.enum(['http', 'https']).default('http'),
  DB_URI: dbUriSchema.optional(),
  DB_CONNECTION_ARGS: z.record(z.string(), z.unknown()).default({}),
  DISTRIBUTED_STORAGE_CONFIG: z.record(locationName, storageLocationSchema).default({}),
  DISTRIBUTED_STORAGE_PREFERENCE: z.array(locationName).default([]),
  DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: z.array(locationName).default([]),
  // Geo-replication (docs/geo-replication.md): Quay's switch; and Quayside's, whether this instance runs the
  // replication worker (`serve --no-replication` turns it off too).
  FEATURE_STORAGE_REPLICATION: z.boolean().default(false),
  STORAGE_REPLICATION_WORKER: z.boolean().default(true),
  // How long a claimed replication job stays with its instance without a renewal (a dead instance's job is taken
  // again after this).
  STORAGE_REPLICATION_LEASE_S: z.number().int().min(3).max(3600).default(60),
  // Reads over several locations (Quayside keys): a location that has not answered a stat, the start of a read
  // or a redirect's HEAD within STORAGE_READ_TIMEOUT_S (fractions allowed) has failed and the next one holding
  // the blob is tried; STORAGE_BREAKER_FAILURES failures in a row make it avoided for STORAGE_BREAKER_OPEN_S.
  STORAGE_READ_TIMEOUT_S: z.number().min(0.1).max(600).default(10),
  // SwiftStorage (docs/storage-swift.md, Quayside key): the fleet shares one auth token per set of credentials
  // through the database (sealed with a key derived from the credentials); false keeps each process's own.
  STORAGE_SWIFT_SHARED_TOKEN: z.boolean().default(true),
  STORAGE_BREAKER_FAILURES: z.number().int().min(1).max(1000).default(2),
  STORAGE_BREAKER_OPEN_S: z.number().min(0.1).max(24 * 3600).default(30),
  FEATURE_ANONYMOUS_ACCESS: z.boolean().default(true),
  FEATURE_REFERRERS_API: z.boolean().default(true),
  FEATURE_USER_CREATION: z.boolean().default(true),
  FEATURE_APP_SPECIFIC_TOKENS: z.boolean().default(true),
  FEATURE_SUPER_USERS: z.boolean().default(true),
  // Blob GETs are answered by a 307 to the driver's signed URL (S3 presigned, Swift temp URL) unless this is
  // true: then Quayside streams the bytes itself (clients that cannot reach the storage, as in Quay).
  FEATURE_PROXY_STORAGE: z.boolean().default(false),
  SUPER_USERS: z.array(z.string().min(1)).default([]),
  CREATE_PRIVATE_REPO_ON_PUSH: z.boolean().default(true),
  CREATE_NAMESPACE_ON_PUSH: z.boolean().default(false),
  SESSION_COOKIE_SECURE: z.boolean().default(false),
  // Quay's instance key settings, in minutes: a key is made every REFRESH and accepted for EXPIRATION.
  INSTANCE_SERVICE_KEY_EXPIRATION: z.number().int().min(2).max(60 * 24 * 30).default(120),
  INSTANCE_SERVICE_KEY_REFRESH: z.number().int().min(1).max(60 * 24 * 30).default(55),
  // Quay's gunicorn worker count of the registry; Quayside's worker processes (src/cluster/). None: one per CPU.
  WORKER_COUNT_REGISTRY: z.number().int().min(1).max(256).optional(),
  // Quayside's own keys (Quay hard-codes these values).
  REGISTRY_TOKEN_LIFETIME_S: z.number().int().min(10).max(24 * 3600).default(3600),
  REGISTRY_TOKEN_CLOCK_SKEW_S: z.number().int().min(0).max(600).default(60),
  LOGIN_FREE_ATTEMPTS: z.number().int().min(1).max(1000).default(5),
  LOGIN_MAX_DELAY_S: z.number().int().min(1).max(3600).default(60),
  SESSION_LIFETIME_S: z.number().int().min(60).max(30 * 24 * 3600).default(12 * 3600),
  MAXIMUM_LAYER_SIZE: sizeSchema.default(20 * 1024 ** 3),
  // Garbage collection (docs/gc.md): Quay's switch, time machine window (a Quay duration such as 2w) and the
  // grace period of blobs and manifests pushed but not yet tagged; the pause between passes is Quayside's.
  FEATURE_GARBAGE_COLLECTION: z.boolean().default(true),
  DEFAULT_TAG_EXPIRATION: durationSchema.default('2w'),
  // Tag expiration and the per-namespace time machine (docs/tag-expiration.md): whether users may set a tag's
  // expiry and their namespace's window, the windows they may choose (Quay's list when absent; the default
  // window is always allowed then), and the range an expiry is clamped to after the tag's start.
  FEATURE_CHANGE_TAG_EXPIRATION: z.boolean().default(true),
  TAG_EXPIRATION_OPTIONS: z.array(durationSchema, { error: 'expected a list of durations such as [0s, 1d, 1w, 2w, 4w]' }).min(1).optional(),
  LABELED_EXPIRATION_MINIMUM: durationSchema.default('1h'),
  LABELED_EXPIRATION_MAXIMUM: durationSchema.default('104w'),
  PUSH_TEMP_TAG_EXPIRATION_SEC: z.number().int().min(1).max(30 * 24 * 3600).default(3600),
  GC_INTERVAL_S: z.number().int().min(1).max(7 * 24 * 3600).default(600),
  // An upload session not written for this long is purged with its temporary object (Quayside key).
  BLOB_UPLOAD_EXPIRY_S: z.number().int().min(60).max(30 * 24 * 3600).default(24 * 3600),
  // Descriptors one pushed manifest may list: each costs a lookup, so the cap bounds a request's work.
  MAXIMUM_MANIFEST_LAYERS: z.number().int().min(1).max(100_000).default(1000),
  MAXIMUM_INDEX_MANIFESTS: z.number().int().min(1).max(100_000).default(10_000),
  // Connection bounds (src/net/connection-guard.ts): slow or idle clients must not hold sockets forever.
  HTTP_HEADERS_TIMEOUT_S: z.number().int().min(1).max(3600).default(30),
  HTTP_IDLE_TIMEOUT_S: z.number().int().min(1).max(3600).default(30),
  HTTP_BODY_IDLE_TIMEOUT_S: z.number().int().min(1).max(3600).default(60),
  HTTP_MAX_CONNECTIONS: z.number().int().min(1).max(1_000_000).default(4096),
  // The edge (docs/edge.md): TLS terminated here unless EXTERNAL_TLS_TERMINATION says a balancer does it.
  EXTERNAL_TLS_TERMINATION: z.boolean().default(false),
  SSL_PROTOCOLS: z.array(z.string().min(1)).optional(),
  SSL_CIPHERS: z.union([z.array(z.string().min(1)), z.string().min(1)]).optional(),
  // Peers whose X-Forwarded-For/-Proto/-Host are believed (Quayside key); nobody else's are.
  TRUSTED_PROXY_NETWORKS: z.array(cidrSchema).default([]),
  HEALTH_CHECKER: healthCheckerSchema.default(['LocalHealthCheck', {}]),
  // Redis is never critical (docs/redis.md): without any of these the cache stays in process.
  BUILDLOGS_REDIS: redisEndpointSchema.optional(),
  USER_EVENTS_REDIS: redisEndpointSchema.optional(),
  DATA_MODEL_CACHE_CONFIG: dataModelCacheSchema.default({ engine: 'inmemory' }),
  // Pull statistics (docs/redis.md): counted in Redis (PULL_METRICS_REDIS, else the endpoint above) or in
  // memory, written to the database every REDIS_FLUSH_INTERVAL_SECONDS. On by default, unlike Quay: a pull
  // costs no database write either way.
  FEATURE_IMAGE_PULL_STATS: z.boolean().default(true),
  PULL_METRICS_REDIS: redisEndpointSchema.optional(),
  REDIS_FLUSH_INTERVAL_SECONDS: z.number().int().min(1).max(24 * 3600).default(30),
  // The registry of instances (docs/health.md, Quayside keys): how often an instance writes its heartbeat, after
  // how long without one the status page says "not seen since", and after how long its row is deleted.
  INSTANCE_HEARTBEAT_S: z.number().int().min(1).max(3600).default(15),
  INSTANCE_NOT_SEEN_AFTER_S: z.number().int().min(2).max(7 * 24 * 3600).default(60),
  INSTANCE_PURGE_AFTER_S: z.number().int().min(3).max(365 * 24 * 3600).default(24 * 3600),
});

/** config.yaml, validated: per-key types and defaults, then the checks that span several keys. */
export const configSchema = objectSchema.superRefine((config, ctx) => {
  const locations = config.DISTRIBUTED_STORAGE_CONFIG;
  const known = Object.keys(locations);
  const listed = known.length > 0 ? `one of ${known.join(', ')}` : 'none are configured';
  for (const key of ['DISTRIBUTED_STORAGE_PREFERENCE', 'DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS'] as const) {
    config[key].forEach((name, index) => {
      if (!Object.hasOwn(locations, name)) {
        ctx.addIssue({
          code: 'custom',
          path: [key, index],
          message: `storage location ${JSON.stringify(name)} is not in DISTRIBUTED_STORAGE_CONFIG (${listed})`,
        });
      }
    });
  }
  // A key must outlive every token it signed: it signs for REFRESH minutes, each token lives the token lifetime.
  const keyNeedsS = config.INSTANCE_SERVICE_KEY_REFRESH * 60 + config.REGISTRY_TOKEN_LIFETIME_S;
  if (config.INSTANCE_SERVICE_KEY_EXPIRATION * 60 < keyNeedsS) {
    ctx.addIssue({
      code: 'custom',
      path: ['INSTANCE_SERVICE_KEY_EXPIRATION'],
      message: `must be at least INSTANCE_SERVICE_KEY_REFRESH plus REGISTRY_TOKEN_LIFETIME_S (${Math.ceil(keyNeedsS / 60)} minutes), or tokens would outlive their signing key`,
    });
  }
  // A live instance must never look gone between two beats, and a row must be seen as gone before it is deleted.
  if (config.INSTANCE_NOT_SEEN_AFTER_S <= config.INSTANCE_HEARTBEAT_S) {
    ctx.addIssue({ code: 'custom', path: ['INSTANCE_NOT_SEEN_AFTER_S'], message: `must be longer than INSTANCE_HEARTBEAT_S (${config.INSTANCE_HEARTBEAT_S})` });
  }
  if (config.INSTANCE_PURGE_AFTER_S <= config.INSTANCE_NOT_SEEN_AFTER_S) {
    ctx.addIssue({ code: 'custom', path: ['INSTANCE_PURGE_AFTER_S'], message: `must be longer than INSTANCE_NOT_SEEN_AFTER_S (${config.INSTANCE_NOT_SEEN_AFTER_S})` });
  }
  // Quay's time machine validator: the default window must be one a namespace could choose.
  if (config.TAG_EXPIRATION_OPTIONS !== undefined && !config.TAG_EXPIRATION_OPTIONS.includes(config.DEFAULT_TAG_EXPIRATION)) {
    ctx.addIssue({
      code: 'custom',
      path: ['TAG_EXPIRATION_OPTIONS'],
      message: `must include DEFAULT_TAG_EXPIRATION (${config.DEFAULT_TAG_EXPIRATION}), the window of every namespace that chose none`,
    });
  }
  if (durationSeconds(config.LABELED_EXPIRATION_MINIMUM) > durationSeconds(config.LABELED_EXPIRATION_MAXIMUM)) {
    ctx.addIssue({ code: 'custom', path: ['LABELED_EXPIRATION_MINIMUM'], message: `must not be longer than LABELED_EXPIRATION_MAXIMUM (${config.LABELED_EXPIRATION_MAXIMUM})` });
  }
  if (known.length > 0 && config.DISTRIBUTED_STORAGE_PREFERENCE.length === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['DISTRIBUTED_STORAGE_PREFERENCE'],
      message: `must name at least one storage location when DISTRIBUTED_STORAGE_CONFIG is set (${listed})`,
    });
  }
});

const DURATION_UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** Seconds of a duration the schema accepted ("2w" is 1209600). */
export function durationSeconds(text: string): number {
  return Number(text.slice(0, -1)) * (DURATION_UNIT_S[text.slice(-1)] ?? Number.NaN);
}

/** The validated configuration. */
export type Config = z.infer<typeof configSchema>;

/** The keys this schema reads; everything else in a config.yaml is reported by the loader. */
export const CONFIG_KEYS: ReadonlySet<string> = new Set(Object.keys(objectSchema.shape));
