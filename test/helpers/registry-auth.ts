// Logging in to a registry under test the way docker and podman do: a token from the realm of /v2's
// challenge, presented as a Bearer on each request. Servers without auth (CNCF distribution, used to
// check the e2e suite itself) get no headers and no credentials flags.
import { join } from 'node:path';
import { requireCommand, runOk, type Credentials, type RegistryServer } from './processes.js';

/** Basic credentials as an Authorization header value. */
export function basicAuth(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

/** Requests a registry token for the scopes (anonymous when credentials is null). Throws unless 200. */
export async function registryToken(baseUrl: string, scopes: string[], credentials: Credentials | null): Promise<string> {
  const url = new URL('/v2/auth', baseUrl);
  url.searchParams.set('service', url.host);
  for (const scope of scopes) url.searchParams.append('scope', scope);
  const response = await fetch(url, { headers: credentials ? { authorization: basicAuth(credentials) } : {} });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`token request for ${scopes.join(' ')} failed: ${response.status} ${body}`);
  const parsed = JSON.parse(body) as { token?: unknown };
  if (typeof parsed.token !== 'string') throw new Error(`token response without a token: ${body}`);
  return parsed.token;
}

/** Authorization headers with the server's user's token for `scope` ({} for servers without credentials). */
export async function authHeaders(server: RegistryServer, ...scopes: string[]): Promise<Record<string, string>> {
  if (server.credentials === undefined) return {};
  return { authorization: `Bearer ${await registryToken(server.url, scopes, server.credentials)}` };
}

/** The scope to push and pull one repository. */
export function pushScope(repository: string): string {
  return `repository:${repository}:pull,push,delete`;
}

/** skopeo flags carrying the server's user for `copy` (src and dest) or for one-image commands. */
export function skopeoCreds(server: RegistryServer, role: 'src' | 'dest' | 'image'): string[] {
  if (server.credentials === undefined) return [];
  const value = `${server.credentials.username}:${server.credentials.password}`;
  return [role === 'image' ? '--creds' : `--${role}-creds`, value];
}

/**
 * `skopeo login` to the server with its user, into an auth file that every later skopeo run of this test
 * process reads (REGISTRY_AUTH_FILE is skopeo's own variable). Does nothing for servers without credentials.
 */
export async function skopeoLogin(server: Pick<RegistryServer, 'hostPort' | 'credentials'>, authDir: string): Promise<void> {
  if (server.credentials === undefined) return;
  const authFile = join(authDir, 'auth.json');
  await runOk(requireCommand('skopeo', 'apt-get install skopeo'), [
    'login',
    '--tls-verify=false',
    '--authfile',
    authFile,
    '--username',
    server.credentials.username,
    '--password-stdin',
    server.hostPort,
  ], { input: `${server.credentials.password}\n` });
  process.env.REGISTRY_AUTH_FILE = authFile;
}
