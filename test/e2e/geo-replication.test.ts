// Geo-replication with two `quayside serve` instances on one PostgreSQL database and two LocalStorage
// locations: us and eu. Instance A prefers us, instance B prefers eu (QUAY_DISTRIBUTED_STORAGE_PREFERENCE).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type Database } from '../../src/db/database.js';
import { blobRelativePath } from '../../src/storage/local.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { buildUmociImage, hashLayoutBlobs, readLayoutImage, type LayoutImage } from '../helpers/oci-images.js';
import { E2E_USER, requireCommand, skopeo, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { skopeoLogin } from '../helpers/registry-auth.js';
import { waitUntil } from '../helpers/wait.js';

interface ManifestJson {
  config: { digest: string };
  layers: { digest: string }[];
}

function blobsOf(image: LayoutImage): string[] {
  const manifest = JSON.parse(image.manifestBytes.toString()) as ManifestJson;
  return [manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)];
}

async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

/** The counter's value for `labels` in a Prometheus text exposition (0 when absent). */
function counter(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('geo-replication across two serve instances', { timeout: 600_000 }, () => {
  let work: string;
  let fresh: FreshDatabase;
  let db: Database;
  let config: string;
  const running: RegistryServer[] = [];
  /** The image of the first test, replicated to both locations. */
  let firstImage: LayoutImage | undefined;

  before(async () => {
    requireCommand('skopeo', 'apt-get install skopeo');
    requireCommand('umoci', 'apt-get install umoci');
    work = await mkdtemp(join(tmpdir(), 'quayside-e2e-geo-'));
    fresh = await freshDatabase('postgres');
    db = await openDatabase({ uri: fresh.uri });
    config = join(work, 'config.yaml');
    await writeFile(
      config,
      [
        `DB_URI: ${fresh.uri}`,
        'DISTRIBUTED_STORAGE_CONFIG:',
        `  us: [LocalStorage, {storage_path: ${join(work, 'us')}}]`,
        `  eu: [LocalStorage, {storage_path: ${join(work, 'eu')}}]`,
        'DISTRIBUTED_STORAGE_PREFERENCE: [us, eu]',
        'DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [us, eu]',
        'FEATURE_STORAGE_REPLICATION: true',
        'STORAGE_REPLICATION_LEASE_S: 4',
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    for (const server of running) await server.stop().catch(() => undefined);
    await db?.close();
    await fresh?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** An instance preferring `location`; the first one started creates the e2e user. */
  async function instance(location: 'us' | 'eu', options: { replication?: boolean } = {}): Promise<RegistryServer & { metricsUrl: string }> {
    const server = await startQuayside({
      config,
      user: running.length === 0 ? E2E_USER : false,
      env: { QUAY_DISTRIBUTED_STORAGE_PREFERENCE: location === 'us' ? 'us eu' : 'eu us', QUAYSIDE_WORKERS: '1' },
      serveArgs: ['--metrics-port', '0', ...(options.replication === false ? ['--no-replication'] : [])],
    });
    running.push(server);
    const line = await server.process.waitForLine(/quayside metrics on (http:\/\/\S+)/);
    const withUser = { ...server, credentials: E2E_USER, metricsUrl: line.match(/(http:\/\/\S+)/)![1]! };
    await skopeoLogin(withUser, work);
    return withUser;
  }

  async function placementsOf(digests: readonly string[]): Promise<Map<string, string[]>> {
    const rows = await db.db.selectFrom('blob_placement').select(['digest', 'location']).where('digest', 'in', [...digests]).orderBy('location').execute();
    const byDigest = new Map<string, string[]>(digests.map((d) => [d, []]));
    for (const row of rows) byDigest.get(row.digest)!.push(row.location);
    return byDigest;
  }

  async function replicatedEverywhere(digests: readonly string[]): Promise<boolean> {
    const placements = await placementsOf(digests);
    const jobs = await db.db.selectFrom('replication_job').select('id').where('digest', 'in', [...digests]).execute();
    return jobs.length === 0 && [...placements.values()].every((locations) => locations.join(',') === 'eu,us');
  }

  async function assertStoredIn(location: string, digests: readonly string[]): Promise<void> {
    for (const digest of digests) assert.equal(await fileDigest(join(work, location, blobRelativePath(digest))), digest, `${digest} in ${location}`);
  }

  const ref = (server: RegistryServer, path: string) => `docker://${server.hostPort}/${path}`;

  test('a push through the us instance reaches eu; each instance serves pulls from its own location', async () => {
    const a = await instance('us');
    const b = await instance('eu');
    const image = await buildUmociImage(join(work, 'img1'), 'v1');
    firstImage = image;
    const digests = blobsOf(image);
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, ref(a, 'e2e/geo:v1')]);
    await waitUntil('every blob in both locations', () => replicatedEverywhere(digests), 60_000, 50);
    await assertStoredIn('us', digests);
    await assertStoredIn('eu', digests);

    for (const [server, own, other] of [[b, 'eu', 'us'], [a, 'us', 'eu']] as const) {
      const out = join(work, `pull-${own}`);
      await skopeo(['copy', '--src-tls-verify=false', ref(server, 'e2e/geo:v1'), `oci:${out}:v1`]);
      const pulled = await readLayoutImage(out, 'v1');
      assert.ok(pulled.manifestBytes.equals(image.manifestBytes));
      assert.deepEqual(await hashLayoutBlobs(out), await hashLayoutBlobs(image.dir));
      const metrics = await (await fetch(server.metricsUrl)).text();
      assert.ok(counter(metrics, 'quayside_storage_reads_total', `location="${own}"`) >= digests.length - 1, metrics.slice(0, 200));
      assert.equal(counter(metrics, 'quayside_storage_reads_total', `location="${other}"`), 0);
    }
    const metricsA = await (await fetch(a.metricsUrl)).text();
    const metricsB = await (await fetch(b.metricsUrl)).text();
    const copied = counter(metricsA, 'quayside_replication_jobs_total', 'location="eu",outcome="copied"') + counter(metricsB, 'quayside_replication_jobs_total', 'location="eu",outcome="copied"');
    assert.equal(copied, digests.length, 'each blob is copied to eu exactly once');
    assert.match(metricsA, /quayside_replication_queue_jobs\{state="queued"\} 0/);
    const health = (await (await fetch(`${b.url}/health/endtoend`)).json()) as { data: { services: Record<string, boolean> } };
    assert.equal(health.data.services['storage:us'], true);
    assert.equal(health.data.services['storage:eu'], true);
    await a.stop();
    await b.stop();
  });

  test('a copy interrupted by SIGKILL of its instance is finished by the other instance', async () => {
    // Pushed while no instance replicates: the jobs wait in the queue.
    const pusher = await instance('us', { replication: false });
    const image = await buildUmociImage(join(work, 'img2'), 'v1', 48 * 1024 * 1024);
    const digests = blobsOf(image);
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, ref(pusher, 'e2e/killed:v1')], 300_000);
    await pusher.stop();
    const queued = await db.db.selectFrom('replication_job').select('digest').execute();
    assert.deepEqual(queued.map((job) => job.digest).sort(), [...digests].sort());

    // The worker starts before the listening line, so the lease is watched from the start, and the instance
    // that holds it is killed by the pid its lease names (host:pid/claim), mid-copy of a 48 MiB layer.
    const layers = digests.slice(1);
    const starting = startQuayside({ config, user: false, env: { QUAY_DISTRIBUTED_STORAGE_PREFERENCE: 'us eu', QUAYSIDE_WORKERS: '1' } }).then(
      (server) => (running.push(server), server),
      () => undefined,
    );
    const leased = await waitUntil('a layer copy leased', async () => {
      const rows = await db.db.selectFrom('replication_job').select(['id', 'digest', 'lease_owner']).where('lease_owner', 'is not', null).where('digest', 'in', layers).execute();
      return rows.length > 0 ? rows : undefined;
    }, 60_000, 2);
    const pid = Number(leased[0]!.lease_owner!.split('/')[0]!.split(':').at(-1));
    process.kill(pid, 'SIGKILL');
    await starting;
    const left = await db.db.selectFrom('replication_job').select(['id', 'digest', 'lease_owner']).where('id', 'in', leased.map((row) => row.id)).execute();
    assert.ok(left.length > 0, 'the copy finished before the kill: nothing was interrupted');
    assert.ok(left.every((row) => row.lease_owner?.startsWith(leased[0]!.lease_owner!.split('/')[0]!)), 'the interrupted job is still leased by the dead instance');

    const survivor = await instance('eu');
    await waitUntil('every blob in both locations', () => replicatedEverywhere(digests), 120_000, 50);
    await assertStoredIn('eu', digests);
    for (const { digest } of left) {
      await survivor.process.waitForLine((line) => line.includes('replication: blob') && line.includes(digest), 5_000);
    }
    await survivor.stop();
  });

  test('many concurrent pushes of the same layers through both instances: one placement each, no job lost, no copy twice', async () => {
    const a = await instance('us');
    const b = await instance('eu');
    const image = await buildUmociImage(join(work, 'img3'), 'v1', 512 * 1024);
    const digests = blobsOf(image);
    await Promise.all(
      [a, b, a, b, a, b].map((server, i) => skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, ref(server, `e2e/same-${i}:v1`)], 300_000)),
    );
    await waitUntil('every blob in both locations', () => replicatedEverywhere(digests), 60_000, 50);
    const rows = await db.db.selectFrom('blob_placement').select(['digest', 'location']).where('digest', 'in', digests).execute();
    assert.equal(rows.length, digests.length * 2);
    await assertStoredIn('us', digests);
    await assertStoredIn('eu', digests);
    const copies = [...a.process.stdoutLines(), ...b.process.stdoutLines(), ...a.process.stderrLines(), ...b.process.stderrLines()]
      .filter((line) => line.includes('"replication: blob copied"'))
      .map((line) => JSON.parse(line) as { digest: string; to: string })
      .map((event) => `${event.digest} ${event.to}`);
    assert.equal(new Set(copies).size, copies.length, `a blob was copied twice: ${copies.join('\n')}`);
    await a.stop();
    await b.stop();
  });

  test('when its own location fails, an instance serves pulls from the other location, byte for byte', async () => {
    assert.ok(firstImage, 'the first test replicated an image');
    const image = firstImage;
    const a = await instance('us');
    // A real failure of the whole us location, even for root: its blob tree becomes a symlink loop (ELOOP).
    const tree = join(work, 'us', 'sha256');
    await rename(tree, `${tree}.away`);
    await symlink(tree, tree);
    try {
      const out = join(work, 'pull-failover');
      await skopeo(['copy', '--src-tls-verify=false', ref(a, 'e2e/geo:v1'), `oci:${out}:v1`]);
      assert.ok((await readLayoutImage(out, 'v1')).manifestBytes.equals(image.manifestBytes));
      assert.deepEqual(await hashLayoutBlobs(out), await hashLayoutBlobs(image.dir));
      const metrics = await (await fetch(a.metricsUrl)).text();
      assert.ok(counter(metrics, 'quayside_storage_fallback_reads_total', 'location="us"') >= 1, 'no fallback from us was counted');
      assert.ok(counter(metrics, 'quayside_storage_reads_total', 'location="eu"') >= blobsOf(image).length - 1);
      const blobGets = (status: number) => counter(metrics, 'quayside_http_requests_total', `method="GET",route="/v2/<name>/blobs/<digest>",status="${status}"`);
      assert.ok(blobGets(200) >= blobsOf(image).length - 1, 'the blob GETs are not counted as expected');
      assert.equal(blobGets(503), 0);
      assert.equal(blobGets(500), 0);
      const lines = [...a.process.stdoutLines(), ...a.process.stderrLines()];
      assert.ok(lines.some((line) => line.includes('storage: location us failed; trying the next location holding the blob')));
    } finally {
      await rm(tree);
      await rename(`${tree}.away`, tree);
    }
    await a.stop();
  });
});
