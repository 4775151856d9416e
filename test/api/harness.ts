// A Fastify app with only the /api/v1 plugin over a real, freshly migrated database, and small helpers
// to drive it with inject(): sign in, call with a cookie or a bearer token, seed users and manifests.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { apiPlugin } from '../../src/api/plugin.js';
import type { SuperuserDeps } from '../../src/api/superuser.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { buildAuthServices, type RunningAuthServices } from '../../src/auth/auth-services.js';
import { defaultAuthOptions, type AuthOptions } from '../../src/auth/options.js';
import { hashPassword } from '../../src/auth/passwords.js';
import type { Dialect } from '../../src/db/database.js';
import type { AccountRecord } from '../../src/db/account-metadata.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { createMetadata } from '../../src/db/kysely-metadata.js';
import { KyselyPullStatistics } from '../../src/db/pull-statistics.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The first user's credentials (a superuser, as named in SUPER_USERS). */
export const ADMIN = { name: 'admin', password: 'admin-password-1' } as const;

export interface CallOptions {
  cookie?: string;
  bearer?: string;
  /** A raw Authorization header (for malformed ones). */
  authorization?: string;
  /** A JSON-serialisable body (sent as application/json unless contentType says otherwise). */
  body?: unknown;
  /** A raw body string, sent as is. */
  raw?: string;
  contentType?: string;
  /** The client address (throttling is per address: tests that fail logins use their own). */
  address?: string;
}

export interface CallResult {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: unknown;
  /** The body as an object (asserted to be one). */
  json: Record<string, unknown>;
}

export interface Api {
  app: FastifyInstance;
  services: RunningAuthServices;
  fresh: FreshDatabase;
  audit: AuditLog;
  call(method: string, path: string, options?: CallOptions): Promise<CallResult>;
  /** Signs in and returns the Cookie header value to send back. */
  signIn(name: string, password: string, address?: string): Promise<string>;
  /** Creates a user straight through the stores. */
  createUser(name: string, password: string, email?: string): Promise<AccountRecord>;
  /** Creates an app token for the signed-in user behind `cookie` and returns its code. */
  appToken(cookie: string, title?: string): Promise<string>;
  /** Stores a small manifest in the repository and returns its digest. */
  putManifest(repository: string, seed?: string): Promise<string>;
  close(): Promise<void>;
}

/** Starts the API on a fresh database of `dialect`; the superuser "admin" exists. */
export async function startApi(
  dialect: Dialect,
  overrides: Partial<AuthOptions> = {},
  /** Runs on the bare app before the API is registered (e.g. to add an onRoute hook that reads the route table). */
  beforeRegister?: (app: FastifyInstance) => void,
  /** What the superuser endpoints are given (the storage locations to validate). */
  superuser: SuperuserDeps = {},
  /** The clock tags are judged by (expiry, time machine); sessions and tokens keep the real one. */
  tagClock?: () => number,
): Promise<Api> {
  const fresh = await freshDatabase(dialect);
  const metadata = createMetadata(fresh.database, { now: tagClock });
  const accounts = createAccountMetadata(fresh.database);
  const audit = new AuditLog(accounts.audit, silent, { flushIntervalMs: 10 });
  const options = defaultAuthOptions({ superUsers: new Set([ADMIN.name]), ...overrides });
  const services = buildAuthServices({ accounts, metadata, options, audit, log: silent, pullStatistics: new KyselyPullStatistics(fresh.database) });
  if (tagClock !== undefined) services.now = tagClock;
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  beforeRegister?.(app);
  await app.register(apiPlugin(services, superuser), { prefix: '/api/v1' });
  await app.ready();

  const createUser = async (name: string, password: string, email?: string) =>
    accounts.accounts.createUser({ name, email: email ?? `${name}@example.com`, passwordHash: await hashPassword(password) });
  await createUser(ADMIN.name, ADMIN.password);

  const call = async (method: string, path: string, options: CallOptions = {}): Promise<CallResult> => {
    const headers: Record<string, string> = {};
    if (options.cookie !== undefined) headers.cookie = options.cookie;
    if (options.bearer !== undefined) headers.authorization = `Bearer ${options.bearer}`;
    if (options.authorization !== undefined) headers.authorization = options.authorization;
    let payload: string | undefined;
    if (options.raw !== undefined) payload = options.raw;
    else if (options.body !== undefined) payload = JSON.stringify(options.body);
    if (options.contentType !== undefined) headers['content-type'] = options.contentType;
    else if (payload !== undefined || (options.cookie !== undefined && method !== 'GET')) headers['content-type'] = 'application/json';
    const response = await app.inject({
      method: method as 'GET',
      url: `/api/v1${path}`,
      headers,
      ...(payload === undefined ? {} : { payload }),
      remoteAddress: options.address ?? '127.0.0.1',
    });
    let body: unknown = response.body;
    if ((response.headers['content-type'] ?? '').toString().startsWith('application/json') && response.body !== '') {
      body = JSON.parse(response.body) as unknown;
    }
    const json = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    return { status: response.statusCode, headers: response.headers, body, json };
  };

  const signIn = async (name: string, password: string, address?: string) => {
    const res = await call('POST', '/signin', { body: { username: name, password }, address });
    assert.equal(res.status, 200, `sign-in of ${name} failed: ${JSON.stringify(res.body)}`);
    const setCookie = res.headers['set-cookie'];
    assert.equal(typeof setCookie, 'string');
    return (setCookie as string).split(';')[0]!;
  };

  const appToken = async (cookie: string, title = 'test token') => {
    const res = await call('POST', '/user/apptoken', { cookie, body: { title } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const token = res.json.token as { token_code: string };
    return token.token_code;
  };

  const putManifest = async (repository: string, seed = randomBytes(8).toString('hex')) => {
    const repo = await metadata.repositories.getRepository(repository);
    assert.ok(repo, `repository ${repository} exists`);
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', seed }));
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    await metadata.manifests.putManifest(repo.id, {
      digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: null,
      subjectDigest: null,
      annotations: null,
      bytes,
      references: [],
    });
    return digest;
  };

  return {
    app,
    services,
    fresh,
    audit,
    call,
    signIn,
    createUser,
    appToken,
    putManifest,
    close: async () => {
      await app.close();
      await audit.close();
      await fresh.drop();
    },
  };
}

/** Asserts Quay's error shape with the given status and type, and returns the message. */
export function assertError(res: CallResult, status: number, type?: string, message?: RegExp): string {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  assert.equal(res.json.status, status);
  assert.equal(typeof res.json.error_message, 'string');
  assert.equal(res.json.detail, res.json.error_message);
  if (type !== undefined) assert.equal(res.json.error_type, type);
  if (message !== undefined) assert.match(res.json.error_message as string, message);
  return res.json.error_message as string;
}

/** The audit rows of a kind, newest first (flushes first). */
export async function auditRows(api: Api, kind: string) {
  return api.audit.query({ kinds: [kind] }, { limit: 100 });
}
