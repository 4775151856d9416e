// Docker-style logins under load: GET /v2/auth?service=&scope= with Basic credentials against quayside (a signed
// JWT per request), and against CNCF distribution with htpasswd auth (GET /v2/ with Basic: its token auth needs
// an external token server, so htpasswd is its own way of checking a docker client's password). Both check a
// bcrypt hash per request; quayside additionally signs a token.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcrypt';
import { freePort, requireCommand, startProcess, type Credentials, type ManagedProcess } from '../test/helpers/processes.js';
import { runWrk, type WrkResult } from './registry-wrk.js';

export interface HtpasswdDistribution {
  url: string;
  process: ManagedProcess;
  credentials: Credentials;
  stop(): Promise<void>;
}

/** CNCF distribution with `auth: htpasswd` (bcrypt cost 10, as `htpasswd -B` writes it), filesystem storage. */
export async function startHtpasswdDistribution(outputFile?: string): Promise<HtpasswdDistribution> {
  const bin = requireCommand('docker-registry', 'apt-get install docker-registry');
  const root = await mkdtemp(join(tmpdir(), 'distribution-htpasswd-'));
  const credentials = { username: 'bench', password: 'bench-password-0123456789' };
  await writeFile(join(root, 'htpasswd'), `${credentials.username}:${await bcrypt.hash(credentials.password, 10)}\n`);
  const port = await freePort();
  const config = join(root, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      // info: the "listening on" line that says it is ready is an info message.
      'log: {level: info}',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(root, 'data')}`,
      'auth:',
      '  htpasswd:',
      '    realm: basic-realm',
      `    path: ${join(root, 'htpasswd')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      `  secret: quayside-bench-${port}`,
      '',
    ].join('\n'),
  );
  try {
    const proc = await startProcess({ command: bin, args: ['serve', config], ready: /listening on 127\.0\.0\.1:\d+/, outputFile, maxLines: 100 });
    return {
      url: `http://127.0.0.1:${port}`,
      process: proc,
      credentials,
      stop: async () => {
        await proc.stop();
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

export function basic(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

/** wrk GET `url` with Basic credentials; throws when any answer is not 2xx (a 401 flood is no login rate). */
export async function loginLoad(url: string, credentials: Credentials, load: { threads: number; connections: number; seconds: number }): Promise<WrkResult> {
  const result = await runWrk(url, { headers: { Authorization: basic(credentials) }, ...load });
  if (result.requests === 0) throw new Error('no login completed');
  if (result.non2xx > 0 || result.socketErrors > 0) throw new Error(`${result.non2xx} non-2xx answers and ${result.socketErrors} socket errors out of ${result.requests}`);
  return result;
}
