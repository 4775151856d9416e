// A change made from the admin CLI next to `quayside serve` with Redis: serve caches a repository for 30 s
// while Redis carries invalidations, so the CLI tells it over the same channel (docs/redis.md, "Writes from
// the CLI"). A repository made private from the CLI refuses anonymous pulls at once; with Redis down the
// change is still made, and the CLI says who was not told.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runQuayside } from '../helpers/cli.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { E2E_USER, startQuayside, type RegistryServer, type RunResult } from '../helpers/processes.js';
import { authHeaders, pushScope, registryToken } from '../helpers/registry-auth.js';
import { waitUntil } from '../helpers/wait.js';

const REPOSITORY = `${E2E_USER.username}/announced`;

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

function succeeded(result: RunResult): RunResult {
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  return result;
}

describe('the admin CLI tells the serving instances of its changes over Redis', () => {
  let work: string;
  let dataDir: string;
  let configPath: string;
  let redis: PrivateRedis;
  let server: RegistryServer;

  /** The status of an anonymous GET of the repository's tags, with the token an anonymous client gets. */
  async function anonymousTagsStatus(): Promise<number> {
    const token = await registryToken(server.url, [`repository:${REPOSITORY}:pull`], null);
    const response = await fetch(`${server.url}/v2/${REPOSITORY}/tags/list`, { headers: { authorization: `Bearer ${token}` } });
    await response.arrayBuffer();
    return response.status;
  }

  const cli = (...args: string[]) => runQuayside(work, ...args, '--data-dir', dataDir, '--config', configPath);

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'quayside-cli-announce-'));
    dataDir = join(work, 'data');
    redis = await startPrivateRedis();
    configPath = join(work, 'config.yaml');
    await writeFile(configPath, `USER_EVENTS_REDIS: {host: 127.0.0.1, port: ${redis.port}}\n`);
    server = await startQuayside({ dataDir, config: configPath });
    // Serving caches repositories for long only while its Redis subscription is up: wait for it.
    await waitUntil('serve to reach Redis', async () => (await fetch(`${server.url}/health/endtoend`)).status === 200);

    const headers = await authHeaders(server, pushScope(REPOSITORY));
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const pushed = await fetch(`${server.url}/v2/${REPOSITORY}/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: config });
    assert.equal(pushed.status, 201, await pushed.text());
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [],
    });
    const put = await fetch(`${server.url}/v2/${REPOSITORY}/manifests/v1`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
    assert.equal(put.status, 201, await put.text());
  });
  after(async () => {
    await server?.stop();
    await redis?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('a repository made private from the CLI refuses an anonymous pull at once, though serve had it cached', async () => {
    const madePublic = succeeded(await cli('repo', 'set-visibility', REPOSITORY, 'public'));
    assert.match(madePublic.stderr, /^cache: [1-9]\d* serving process(es)? told to drop their cached entries$/m);
    // Twice: the second answer comes from serve's cache, which now holds the public repository for 30 s.
    assert.equal(await anonymousTagsStatus(), 200);
    assert.equal(await anonymousTagsStatus(), 200);

    const madePrivate = succeeded(await cli('repo', 'set-visibility', REPOSITORY, 'private'));
    assert.match(madePrivate.stderr, /^cache: [1-9]\d* serving process(es)? told to drop their cached entries$/m);
    // The announcement was answered by Redis after serve's subscriber had it; the next request decides anew.
    await waitUntil('serve to drop its cached repository', async () => (await anonymousTagsStatus()) === 401, 5_000, 50);
    assert.equal(await anonymousTagsStatus(), 401);
  });

  it('with Redis down the change is made, and the CLI says the instances were not told', async () => {
    await redis.stop();
    const result = succeeded(await cli('repo', 'set-visibility', REPOSITORY, 'public'));
    assert.match(result.stderr, /^warning: serving instances were not told of the change \(redis:\/\/127\.0\.0\.1:\d+\/0: .+\); they see it within 30 s$/m);
    // Serve lost its subscription too, so it caches nothing for long: the change counts at once.
    await waitUntil('the repository to be public to serve', async () => (await anonymousTagsStatus()) === 200, 10_000, 50);
  });
});
