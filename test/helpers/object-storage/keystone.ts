// A real Keystone v3 (Debian's keystone package) on a loopback port: SQLite in WAL mode, fernet tokens, served
// by uwsgi with one worker and no threads (SQLite refuses concurrent writers with "database is locked"),
// bootstrapped with public, internal and admin endpoints (authtoken looks Keystone up by its internal one),
// then provisioned over its REST API: a service user for the proxy and a project user for the tests.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireCommand, runOk } from '../processes.js';
import { renderKeystoneConf } from './config.js';
import { httpAnswers, spawnDaemon, waitReady, type Daemon } from './daemons.js';

export const KEYSTONE_REGION = 'RegionOne';
const ADMIN_PASSWORD = 'keystone-admin-secret';

/** The proxy's own Keystone user (authtoken, s3token); its password is in the proxy's config. */
export const SERVICE_USER = Object.freeze({ name: 'swift', password: 'swift-service-secret', project: 'service' });

export interface KeystoneUser {
  name: string;
  password: string;
  id: string;
  projectName: string;
  projectId: string;
}

export interface KeystoneServer {
  /** `http://127.0.0.1:<port>/v3` */
  authUrl: string;
  daemon: Daemon;
  admin: { name: string; password: string; projectName: string };
}

/** Creates the database and keys, bootstraps, and starts keystone under uwsgi; resolves once /v3 answers. */
export async function startKeystone(root: string, port: number): Promise<KeystoneServer> {
  const manage = requireCommand('keystone-manage', 'apt-get install keystone');
  const uwsgi = requireCommand('uwsgi', 'apt-get install uwsgi uwsgi-plugin-python3');
  const python = requireCommand('python3', 'apt-get install python3');
  await mkdir(join(root, 'fernet-keys'), { recursive: true, mode: 0o700 });
  await mkdir(join(root, 'credential-keys'), { recursive: true, mode: 0o700 });
  const conf = join(root, 'keystone.conf');
  await writeFile(conf, renderKeystoneConf({ root }));
  const url = `http://127.0.0.1:${port}`;
  const keystoneManage = (...args: string[]) => runOk(manage, ['--config-file', conf, ...args], { timeoutMs: 180_000 });
  await keystoneManage('db_sync');
  await runOk(python, ['-c', `import sqlite3; sqlite3.connect(${JSON.stringify(join(root, 'keystone.db'))}).execute('PRAGMA journal_mode=WAL')`]);
  await keystoneManage('fernet_setup', '--keystone-user', 'root', '--keystone-group', 'root');
  await keystoneManage('credential_setup', '--keystone-user', 'root', '--keystone-group', 'root');
  await keystoneManage(
    'bootstrap',
    '--bootstrap-password', ADMIN_PASSWORD,
    '--bootstrap-admin-url', `${url}/v3`,
    '--bootstrap-internal-url', `${url}/v3`,
    '--bootstrap-public-url', `${url}/v3`,
    '--bootstrap-region-id', KEYSTONE_REGION,
  );
  const daemon = spawnDaemon({
    name: 'keystone (uwsgi)',
    command: uwsgi,
    args: [
      '--plugin', 'python3',
      '--http-socket', `127.0.0.1:${port}`,
      '--wsgi-file', '/usr/bin/keystone-wsgi-public',
      '--processes', '1',
      '--threads', '1',
      '--master',
      '--die-on-term',
      '--need-app',
      '--buffer-size', '65535',
      '--env', `OS_KEYSTONE_CONFIG_FILES=${conf}`,
      // uwsgi's http-socket closes each connection after one response without saying so; clients that
      // reuse it (keystoneauth in the proxy) then fail with "Remote end closed connection without response".
      '--add-header', 'Connection: close',
    ],
    logFile: join(root, 'keystone.log'),
    cwd: root,
  });
  try {
    await waitReady(daemon, 'answer on /v3', () => httpAnswers(`${url}/v3`, 200), 120_000);
  } catch (error) {
    await daemon.stop();
    throw error;
  }
  return { authUrl: `${url}/v3`, daemon, admin: { name: 'admin', password: ADMIN_PASSWORD, projectName: 'admin' } };
}

/** A project-scoped token and its catalog (password auth, Default domain). */
export async function keystoneToken(authUrl: string, user: { name: string; password: string; projectName: string }): Promise<{ token: string; body: unknown }> {
  const response = await fetch(`${authUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: user.name, domain: { id: 'default' }, password: user.password } } },
        scope: { project: { name: user.projectName, domain: { id: 'default' } } },
      },
    }),
  });
  const text = await response.text();
  const token = response.headers.get('x-subject-token');
  if (response.status !== 201 || token === null) throw new Error(`keystone auth of ${user.name} answered ${response.status}: ${text}`);
  return { token, body: JSON.parse(text) as unknown };
}

/** One admin REST call; returns the JSON body, throws with Keystone's answer on an unexpected status. */
async function adminCall(authUrl: string, token: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${authUrl}${path}`, {
    method,
    headers: { 'x-auth-token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`keystone ${method} ${path} answered ${response.status}: ${text}`);
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

function idOf(body: Record<string, unknown>, key: string): string {
  const entity = body[key] as { id?: unknown } | undefined;
  if (typeof entity?.id !== 'string') throw new Error(`keystone answer without ${key}.id: ${JSON.stringify(body)}`);
  return entity.id;
}

export interface KeystoneProvisioning {
  service: KeystoneUser;
  tester: KeystoneUser;
  /** An EC2 credential of the tester, for S3 requests validated by s3token. */
  ec2: { access: string; secret: string };
}

/**
 * Creates the `service` project and its `swift` user (role `service`: Debian's keystone lets only service users
 * or admins call /v3/s3tokens), the `quayside` project with user `tester` (role `member`, an operator role of
 * keystoneauth), the object-store endpoints of `proxyUrl` and an EC2 credential for the tester.
 */
export async function provisionKeystone(keystone: KeystoneServer, proxyUrl: string): Promise<KeystoneProvisioning> {
  const { authUrl } = keystone;
  const { token } = await keystoneToken(authUrl, keystone.admin);
  const call = (method: string, path: string, body?: unknown) => adminCall(authUrl, token, method, path, body);
  const roles = (await call('GET', '/roles')).roles as { id: string; name: string }[];
  const roleId = async (name: string) => roles.find((role) => role.name === name)?.id ?? idOf(await call('POST', '/roles', { role: { name } }), 'role');
  const memberRole = await roleId('member');
  const serviceRole = await roleId('service');

  const makeUser = async (name: string, password: string, projectName: string, role: string): Promise<KeystoneUser> => {
    const projectId = idOf(await call('POST', '/projects', { project: { name: projectName, domain_id: 'default' } }), 'project');
    const id = idOf(await call('POST', '/users', { user: { name, password, domain_id: 'default', default_project_id: projectId } }), 'user');
    await call('PUT', `/projects/${projectId}/users/${id}/roles/${role}`);
    return { name, password, id, projectName, projectId };
  };
  const service = await makeUser(SERVICE_USER.name, SERVICE_USER.password, SERVICE_USER.project, serviceRole);
  const tester = await makeUser('tester', 'tester-secret-0123', 'quayside', memberRole);

  const serviceId = idOf(await call('POST', '/services', { service: { type: 'object-store', name: 'swift' } }), 'service');
  for (const iface of ['public', 'internal', 'admin']) {
    await call('POST', '/endpoints', {
      endpoint: { service_id: serviceId, interface: iface, region_id: KEYSTONE_REGION, url: `${proxyUrl}/v1/AUTH_$(project_id)s` },
    });
  }
  const ec2 = { access: `ec2-${tester.id.slice(0, 12)}`, secret: 'ec2-secret-for-quayside-tests' };
  await call('POST', '/credentials', {
    credential: { type: 'ec2', user_id: tester.id, project_id: tester.projectId, blob: JSON.stringify(ec2) },
  });
  return { service, tester, ec2 };
}
