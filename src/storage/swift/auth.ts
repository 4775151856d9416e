import { header, readText, type HttpTransport } from './http.js';
import type { SwiftParams } from './params.js';

/**
 * Swift authentication: v1 (tempauth/swauth: X-Auth-User/X-Auth-Key), Keystone v2.0 and v3 password auth.
 * The token and storage URL are cached until shortly before the token expires (by the injected clock); a 401
 * from Swift invalidates the cached token so the next call authenticates again. Concurrent callers share one
 * authentication.
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
const EXPIRY_MARGIN_MS = 60_000;

type AuthParams = Pick<SwiftParams, 'auth_url' | 'auth_version' | 'swift_user' | 'swift_password' | 'os_options'>;

export class SwiftAuthenticator {
  private cached: SwiftSession | undefined;
  private pending: Promise<SwiftSession> | undefined;

  constructor(
    private readonly params: AuthParams,
    private readonly transport: HttpTransport,
    private readonly now: () => number,
  ) {}

  /** A valid session, from the cache or a fresh authentication. */
  session(): Promise<SwiftSession> {
    const cached = this.cached;
    if (cached !== undefined && (cached.expiresAt === undefined || this.now() < cached.expiresAt - EXPIRY_MARGIN_MS)) {
      return Promise.resolve(cached);
    }
    this.pending ??= this.authenticate().then(
      (session) => {
        this.cached = session;
        this.pending = undefined;
        return session;
      },
      (error: unknown) => {
        this.pending = undefined;
        throw error;
      },
    );
    return this.pending;
  }

  /** Forgets `token` (Swift answered 401 to it); a newer token from a concurrent re-auth is kept. */
  invalidate(token: string): void {
    if (this.cached?.token === token) this.cached = undefined;
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
