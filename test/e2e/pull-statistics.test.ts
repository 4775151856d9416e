// Pull statistics through a real `quayside serve`: skopeo and raw manifest GETs are counted (in a private Redis,
// or in memory without one), written by the flush, and read back from Quay's pull_statistics endpoints.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildUmociImage, http, MEDIA, type LayoutImage } from '../helpers/oci-images.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { E2E_USER, requireCommand, skopeo, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { authHeaders, skopeoLogin } from '../helpers/registry-auth.js';
import { waitUntil } from '../helpers/wait.js';

interface TagStatistics {
  tag_name: string;
  tag_pull_count: number;
  last_tag_pull_date: string | null;
  current_manifest_digest: string;
  manifest_pull_count: number;
  last_manifest_pull_date: string | null;
}

for (const setup of ['a private Redis', 'no Redis'] as const) {
  describe(`pull statistics with ${setup}`, () => {
    let work: string;
    let redis: PrivateRedis | undefined;
    let server: RegistryServer;
    let image: LayoutImage;
    let cookie: string;

    before(async () => {
      requireCommand('skopeo', 'apt-get install skopeo');
      requireCommand('umoci', 'apt-get install umoci');
      work = await mkdtemp(join(tmpdir(), 'quayside-pull-stats-'));
      if (setup === 'a private Redis') redis = await startPrivateRedis();
      const config = join(work, 'config.yaml');
      await writeFile(config, `REDIS_FLUSH_INTERVAL_SECONDS: 1\n${redis ? `USER_EVENTS_REDIS: {host: 127.0.0.1, port: ${redis.port}}\n` : ''}`);
      server = await startQuayside({ dataDir: join(work, 'data'), config });
      await skopeoLogin(server, work);
      image = await buildUmociImage(join(work, 'src'), 'v1');
      await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, `docker://${server.hostPort}/e2e/stats:v1`]);
      const signin = await http(`${server.url}/api/v1/signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: E2E_USER.username, password: E2E_USER.password }),
      });
      assert.equal(signin.status, 200, signin.body.toString());
      cookie = ([signin.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('quayside_session=')) ?? '').split(';')[0] ?? '';
    });
    after(async () => {
      await server?.stop();
      await redis?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    const api = async (path: string) => {
      const response = await http(`${server.url}/api/v1/repository/e2e/stats${path}`, { headers: { cookie } });
      return { status: response.status, json: JSON.parse(response.body.toString()) as Record<string, unknown> };
    };
    const tagStatistics = async () => (await api('/tag/v1/pull_statistics')).json as unknown as TagStatistics;

    it('counts pulls by tag and by digest, and shows them once flushed', async () => {
      const digest = image.manifest.digest;
      const before = await tagStatistics();
      assert.equal(before.tag_name, 'v1');
      assert.equal(before.current_manifest_digest, digest);
      assert.equal(before.tag_pull_count, 0, 'pushing is not pulling');
      assert.equal(before.last_tag_pull_date, null);

      const headers = { ...(await authHeaders(server, 'repository:e2e/stats:pull')), accept: MEDIA.manifest };
      for (let i = 0; i < 3; i++) assert.equal((await http(`${server.url}/v2/e2e/stats/manifests/v1`, { headers })).status, 200);
      assert.equal((await http(`${server.url}/v2/e2e/stats/manifests/${digest}`, { headers })).status, 200);
      // A HEAD checks what the client has; it is no pull.
      assert.equal((await http(`${server.url}/v2/e2e/stats/manifests/v1`, { method: 'HEAD', headers })).status, 200);
      const counted = await waitUntil('the flush to write 3 tag pulls and 4 manifest pulls', async () => {
        const stats = await tagStatistics();
        return stats.tag_pull_count === 3 && stats.manifest_pull_count === 4 ? stats : undefined;
      });
      assert.match(counted.last_tag_pull_date ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const byDigest = await api(`/manifest/${digest}/pull_statistics`);
      assert.equal(byDigest.status, 200);
      assert.equal(byDigest.json.manifest_pull_count, 4);

      await skopeo(['copy', '--src-tls-verify=false', `docker://${server.hostPort}/e2e/stats:v1`, `oci:${join(work, 'out')}:v1`]);
      await waitUntil('skopeo\'s pull counted', async () => (await tagStatistics()).tag_pull_count > 3);
    });

    it('answers 404 for a tag or manifest that does not exist and 400 for a malformed one', async () => {
      assert.equal((await api('/tag/nope/pull_statistics')).status, 404);
      assert.equal((await api(`/manifest/sha256:${'0'.repeat(64)}/pull_statistics`)).status, 404);
      const bad = await api('/manifest/sha256:xyz/pull_statistics');
      assert.equal(bad.status, 400);
      assert.match(String(bad.json.error_message ?? bad.json.message ?? ''), /invalid digest/);
      assert.equal((await api('/tag/-bad/pull_statistics')).status, 400);
    });

    it('refuses anonymous callers on a private repository', async () => {
      const response = await http(`${server.url}/api/v1/repository/e2e/stats/tag/v1/pull_statistics`);
      assert.ok(response.status === 401 || response.status === 403, `status ${response.status}`);
    });
  });
}
