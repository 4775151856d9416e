import { header, readText, type HttpTransport } from './http.js';
import type { SwiftParams } from './params.js';
import type { TokenSharing } from './token-sharing.js';

/**
 * Swift authentication: v1 (tempauth/swauth: X-Auth-User/X-Auth-Key), Keystone v2.0 and v3 password auth.
 * The token and storage URL are cached until shortly before the token expires (by the injected clock); a 401
 * from Swift invalidates the cached token so the next call authenticates again. Concurrent callers share one
 * authentication.
 *
 * With a shared token cache (token-sharing.ts), the whole fleet uses one token per set of credentials, so the
 * Swift proxy validates one token with Keystone instead of one per process: a process that has no usable
 * token asks the cache first and authenticates only when the cache has none (then writes what it got); a
 * process whose token came from before the cache was attached (serve checks its storage before it opens the
 * database) publishes it, or adopts the fleet's, and every RECHECK_MS a process checks the cache again in the
 * background and adopts the fleet's token when it differs (two instances that authenticated at once converge).
 * Nothing ever authenticates because of what the cache holds, so processes cannot chase each other.
 */

export interface SwiftSession {
  token: string;
  /** The account URL: `https://proxy/v1/AUTH_<project>`. */
  storageUrl: string;
  /** Epoch ms; undefined when the auth service did not say. */
  expiresAt?: number;
}

/** Authentication itself was refused (wrong credentials, unknown project, no object-store in the catalog). */
export class SwiftAuthError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'SwiftAuthError';
  }
}

/** The auth service answered with a server error (retryable). */
export class SwiftAuthUnavailableError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'SwiftAuthUnavailableError';
  }
}

/** A token is not reused within this margin of its expiry (clock skew, a long request). */
export const EXPIRY_MARGIN_MS = 60_000;
/** How often a process with a token checks that it is still the fleet's (in the background, never blocking). */
export const RECHECK_MS = 15_000;
/** Tokens Swift refused lately, never taken from the shared cache again. */
const REJECTED_KEPT = 8;

type AuthParams = Pick<SwiftParams, 'auth_url' | 'auth_version' | 'swift_user' | 'swift_password' | 'os_options'>;

interface CachedSession {
  session: SwiftSession;
  /** The shared cache holds (or held) this token: it came from there or was written there. */
  synced: boolean;
  /** When the shared cache was last asked about it. */
  checkedAt: number;
}

export class SwiftAuthenticator {
  private cached: CachedSession | undefined;
  private pending: Promise<SwiftSession> | undefined;
  private syncing: Promise<void> | undefined;
  private readonly rejected: string[] = [];

  constructor(
    private readonly params: AuthParams,
    private readonly transport: HttpTransport,
    private readonly now: () => number,
    private readonly sharing?: TokenSharing,
  ) {}

  /** A valid session, from memory, the shared cache or a fresh authentication. */
  session(): Promise<SwiftSession> {
    const cached = this.cached;
    if (cached !== undefined && this.usable(cached.session)) {
      this.syncInBackground(cached);
      return Promise.resolve(cached.session);
    }
    this.pending ??= this.acquire().then(
      (entry) => {
        this.cached = entry;
        this.pending = undefined;
        return entry.session;
      },
      (error: unknown) => {
        this.pending = undefined;
        throw error;
      },
    );
    return this.pending;
  }

  /**
   * Forgets `token` (Swift answered 401 to it), here and in the shared cache (only if the cache still holds
   * that token); a newer token from a concurrent re-auth is kept.
   */
  async invalidate(token: string): Promise<void> {
    if (this.cached?.session.token === token) this.cached = undefined;
    if (!this.rejected.includes(token)) {
      this.rejected.push(token);
      if (this.rejected.length > REJECTED_KEPT) this.rejected.shift();
    }
    await this.sharing?.drop(token);
  }

  private usable(session: SwiftSession): boolean {
    return session.expiresAt === undefined || this.now() < session.expiresAt - EXPIRY_MARGIN_MS;
  }

  /** The fleet's token when the shared cache has a usable one; otherwise a fresh authentication, shared. */
  private async acquire(): Promise<CachedSession> {
    const shared = await this.lookup();
    if (shared.state === 'found') return { session: shared.session, synced: true, checkedAt: this.now() };
    const session = await this.authenticate();
    // 'unavailable' (no cache, or it does not answer): the token stays unsynced and is published once it answers.
    const synced = shared.state === 'none' ? await this.sharing!.publish(session) : false;
    return { session, synced, checkedAt: this.now() };
  }

  /** The shared cache's token, a token Swift refused lately counting as none. */
  private async lookup(): Promise<Awaited<ReturnType<TokenSharing['load']>>> {
    if (this.sharing === undefined) return { state: 'unavailable' };
    const shared = await this.sharing.load(this.now() + EXPIRY_MARGIN_MS);
    return shared.state === 'found' && this.rejected.includes(shared.session.token) ? { state: 'none' } : shared;
  }

  /** Publishes a token the cache never saw, or adopts the fleet's when it differs; once per RECHECK_MS at most. */
  private syncInBackground(entry: CachedSession): void {
    if (this.sharing?.attached() !== true || this.syncing !== undefined) return;
    if (entry.synced && this.now() - entry.checkedAt < RECHECK_MS) return;
    entry.checkedAt = this.now();
    this.syncing = (async () => {
      const shared = await this.lookup();
      if (this.cached !== entry) return;
      if (shared.state === 'found') {
        if (shared.session.token === entry.session.token) entry.synced = true;
        else this.cached = { session: shared.session, synced: true, checkedAt: this.now() };
      } else if (shared.state === 'none' && !entry.synced) {
        // Written once per token at most: a token another process saw refused is never put back from here.
        entry.synced = await this.sharing!.publish(entry.session);
      }
    })().finally(() => {
      this.syncing = undefined;
    });
  }

  private authenticate(): Promise<SwiftSession> {
    switch (this.params.auth_version) {
      case 1:
        return this.authV1();
      case 2:
        return this.authV2();
      case 3:
        return this.authV3();
    }
  }

  private storageUrlOverride(): string | undefined {
    return this.params.os_options?.object_storage_url?.replace(/\/+$/, '');
  }

  private async authV1(): Promise<SwiftSession> {
    const response = await this.transport.send({
      method: 'GET',
      url: new URL(this.params.auth_url),
      headers: { 'x-auth-user': this.params.swift_user, 'x-auth-key': this.params.swift_password },
    });
    const text = await readText(response.body);
    checkAuthStatus(response.status, text, 'v1');
    const token = header(response.headers, 'x-auth-token');
    const storageUrl = this.storageUrlOverride() ?? header(response.headers, 'x-storage-url');
    if (token === undefined || storageUrl === undefined) throw new SwiftAuthError('v1 auth answered without X-Auth-Token or X-Storage-Url', response.status);
    const expiresIn = Number(header(response.headers, 'x-auth-token-expires'));
    return { token, storageUrl: storageUrl.replace(/\/+$/, ''), expiresAt: Number.isFinite(expiresIn) && expiresIn > 0 ? this.now() + expiresIn * 1000 : undefined };
  }

  private async authV2(): Promise<SwiftSession> {
    const options = this.params.os_options ?? {};
    const tenantId = options.tenant_id ?? options.project_id;
    const tenant = tenantId !== undefined ? { tenantId } : options.project_name !== undefined ? { tenantName: options.project_name } : {};
    const body = JSON.stringify({ auth: { passwordCredentials: { username: this.params.swift_user, password: this.params.swift_password }, ...tenant } });
    const response = await this.transport.send({
      method: 'POST',
      url: keystoneUrl(this.params.auth_url, 'v2.0', 'tokens'),
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body,
    });
    const text = await readText(response.body);
    checkAuthStatus(response.status, text, 'v2');
    const access = (parseJson(text) as { access?: V2Access }).access;
    const token = access?.token?.id;
    if (token === undefined) throw new SwiftAuthError('Keystone v2 answered without access.token.id', response.status);
    const storageUrl =
      this.storageUrlOverride() ??
      pickEndpoint(
        (access?.serviceCatalog ?? []).flatMap((service) =>
          service.type === 'object-store' ? (service.endpoints ?? []).map((e) => ({ region: e.region, url: e.publicURL, iface: 'public' })) : [],
        ),
        options.region_name,
      );
    return { token, storageUrl, expiresAt: parseExpiry(access?.token?.expires) };
  }

  private async authV3(): Promise<SwiftSession> {
    const options = this.params.os_options ?? {};
    const domain = (id: string | undefined, name: string | undefined) => (id !== undefined ? { id } : name !== undefined ? { name } : { id: 'default' });
    const projectId = options.project_id ?? options.tenant_id;
    const scope =
      projectId !== undefined
        ? { project: { id: projectId } }
        : options.project_name !== undefined
          ? { project: { name: options.project_name, domain: domain(options.project_domain_id, options.project_domain_name) } }
          : undefined;
    const body = JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: {
            user: {
              name: this.params.swift_user,
              password: this.params.swift_password,
              domain: domain(options.user_domain_id, options.user_domain_name),
            },
          },
        },
        ...(scope === undefined ? {} : { scope }),
      },
    });
    const response = await this.transport.send({
      method: 'POST',
      url: keystoneUrl(this.params.auth_url, 'v3', 'auth/tokens'),
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body,
    });
    const text = await readText(response.body);
    checkAuthStatus(response.status, text, 'v3');
    const token = header(response.headers, 'x-subject-token');
    if (token === undefined) throw new SwiftAuthError('Keystone v3 answered without X-Subject-Token', response.status);
    const parsed = (parseJson(text) as { token?: V3Token }).token;
    const storageUrl =
      this.storageUrlOverride() ??
      pickEndpoint(
        (parsed?.catalog ?? []).flatMap((service) =>
          service.type === 'object-store' ? (service.endpoints ?? []).map((e) => ({ region: e.region_id ?? e.region, url: e.url, iface: e.interface })) : [],
        ),
        options.region_name,
      );
    return { token, storageUrl, expiresAt: parseExpiry(parsed?.expires_at) };
  }
}

interface V2Access {
  token?: { id?: string; expires?: string };
  serviceCatalog?: { type?: string; endpoints?: { region?: string; publicURL?: string }[] }[];
}

interface V3Token {
  expires_at?: string;
  catalog?: { type?: string; endpoints?: { region?: string; region_id?: string; url?: string; interface?: string }[] }[];
}

/** `<auth_url>/<path>`, inserting the version segment unless auth_url already ends with it. */
function keystoneUrl(authUrl: string, version: string, path: string): URL {
  const base = authUrl.replace(/\/+$/, '');
  return new URL(`${base.endsWith(`/${version}`) ? base : `${base}/${version}`}/${path}`);
}

function checkAuthStatus(status: number, text: string, version: string): void {
  if (status >= 200 && status < 300) return;
  const detail = text.replace(/\s+/g, ' ').slice(0, 200);
  if (status >= 500 || status === 429) throw new SwiftAuthUnavailableError(`Swift ${version} auth answered ${status}: ${detail}`, status);
  throw new SwiftAuthError(`Swift ${version} auth refused (${status}): ${detail}`, status);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SwiftAuthError('the auth service answered with a body that is not JSON', 200);
  }
}

function parseExpiry(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** The public object-store endpoint of the region (the first region when none is configured). */
function pickEndpoint(endpoints: { region?: string; url?: string; iface?: string }[], region: string | undefined): string {
  const usable = endpoints.filter((e) => e.url !== undefined && (e.iface === undefined || e.iface === 'public'));
  const match = region === undefined ? usable[0] : usable.find((e) => e.region === region);
  if (match?.url === undefined) {
    throw new SwiftAuthError(`no public object-store endpoint${region === undefined ? '' : ` in region ${region}`} in the Keystone catalog`, 200);
  }
  return match.url.replace(/\/+$/, '');
}
