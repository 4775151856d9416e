// Geo-replication's per-namespace locations and its read tuning keys, with real `quayside serve` processes on
// PostgreSQL, LocalStorage locations and skopeo.
// 1. us, eu (DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS) and ap: once the superuser API adds ap to the organization
//    acme, acme's pushed blobs reach ap and the user e2e's do not; `storage backfill` then copies acme's
//    earlier blobs (only those); removing ap deletes nothing and stops new copies.
// 2. STORAGE_READ_TIMEOUT_S and STORAGE_BREAKER_*: a blob whose us copy never answers (a named pipe) is served
//    from eu after the configured timeout; with STORAGE_BREAKER_FAILURES: 1 that one failure keeps us out of
//    the way for the next image's reads, with the default (2) it does not.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type Database } from '../../src/db/database.js';
import { blobRelativePath } from '../../src/storage/local.js';
import { runQuayside } from '../helpers/cli.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { buildUmociImage, hashLayoutBlobs, readLayoutImage, type LayoutImage } from '../helpers/oci-images.js';
import { E2E_USER, requireCommand, runOk, skopeo, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { skopeoLogin } from '../helpers/registry-auth.js';
import { waitUntil } from '../helpers/wait.js';

interface ManifestJson {
  config: { digest: string };
  layers: { digest: string; size: number }[];
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

type Instance = RegistryServer & { metricsUrl: string };

/** Rigs of both tests: a PostgreSQL database, a work dir, instances started on a config. */
function rig(prefix: string) {
  const state = { work: '', fresh: undefined as FreshDatabase | undefined, db: undefined as Database | undefined, running: [] as RegistryServer[] };
  before(async () => {
    requireCommand('skopeo', 'apt-get install skopeo');
    requireCommand('umoci', 'apt-get install umoci');
    state.work = await mkdtemp(join(tmpdir(), prefix));
    state.fresh = await freshDatabase('postgres');
    state.db = await openDatabase({ uri: state.fresh.uri });
  });
  after(async () => {
    for (const server of state.running) await server.stop().catch(() => undefined);
    await state.db?.close();
    await state.fresh?.drop();
    if (state.work) await rm(state.work, { recursive: true, force: true });
  });
  return {
    get work() {
      return state.work;
    },
    get db(): Database {
      return state.db!;
    },
    get uri(): string {
      return state.fresh!.uri;
    },
    /** An instance on `config`; the first one started creates the e2e user. */
    async instance(config: string, preference: string): Promise<Instance> {
      const server = await startQuayside({
        config,
        user: state.running.length === 0 ? E2E_USER : false,
        env: { QUAY_DISTRIBUTED_STORAGE_PREFERENCE: preference, QUAYSIDE_WORKERS: '1' },
        serveArgs: ['--metrics-port', '0'],
      });
      state.running.push(server);
      const line = await server.process.waitForLine(/quayside metrics on (http:\/\/\S+)/);
      const withUser = { ...server, credentials: E2E_USER, metricsUrl: line.match(/(http:\/\/\S+)/)![1]! };
      await skopeoLogin(withUser, state.work);
      return withUser;
    },
    /** Each digest's placements, by location name, and whether any of them still has a job. */
    async placements(digests: readonly string[]): Promise<{ byDigest: Map<string, string>; jobs: number }> {
      const rows = await state.db!.db.selectFrom('blob_placement').select(['digest', 'location']).where('digest', 'in', [...digests]).orderBy('location').execute();
      const byDigest = new Map<string, string[]>(digests.map((d) => [d, []]));
      for (const row of rows) byDigest.get(row.digest)!.push(row.location);
      const jobs = await state.db!.db.selectFrom('replication_job').select('id').where('digest', 'in', [...digests]).execute();
      return { byDigest: new Map([...byDigest].map(([d, l]) => [d, l.join(',')])), jobs: jobs.length };
    },
  };
}

const ref = (server: RegistryServer, path: string) => `docker://${server.hostPort}/${path}`;

async function push(server: RegistryServer, image: LayoutImage, tag: string, path: string): Promise<void> {
  await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:${tag}`, ref(server, path)]);
}

async function pullAndCompare(server: RegistryServer, image: LayoutImage, tag: string, path: string, out: string): Promise<void> {
  await skopeo(['copy', '--src-tls-verify=false', ref(server, path), `oci:${out}:${tag}`]);
  const pulled = await readLayoutImage(out, tag);
  assert.ok(pulled.manifestBytes.equals(image.manifestBytes));
  assert.deepEqual(await hashLayoutBlobs(out), await hashLayoutBlobs(image.dir));
}

describe('geo-replication: a namespace\'s own storage location', { timeout: 600_000 }, () => {
  const r = rig('quayside-e2e-geons-');
  let config: string;

  before(async () => {
    config = join(r.work, 'config.yaml');
    await writeFile(
      config,
      [
        `DB_URI: ${r.uri}`,
        'DISTRIBUTED_STORAGE_CONFIG:',
        ...['us', 'eu', 'ap'].map((name) => `  ${name}: [LocalStorage, {storage_path: ${join(r.work, name)}}]`),
        'DISTRIBUTED_STORAGE_PREFERENCE: [us, eu, ap]',
        'DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [us, eu]',
        'FEATURE_STORAGE_REPLICATION: true',
        '',
      ].join('\n'),
    );
  });

  /** Every digest placed exactly in `locations` (sorted, comma-separated) and no job left for any. */
  const placedIn = async (digests: readonly string[], locations: string) => {
    const { byDigest, jobs } = await r.placements(digests);
    return jobs === 0 && [...byDigest.values()].every((placed) => placed === locations);
  };
  const inAp = (digest: string) => existsSync(join(r.work, 'ap', blobRelativePath(digest)));

  test('acme\'s blobs reach ap once ap is one of its locations, e2e\'s do not; backfill fills ap with acme\'s earlier blobs; removal deletes nothing', async () => {
    const a = await r.instance(config, 'us eu ap');
    for (const args of [['org', 'create', 'acme', '--owner', E2E_USER.username], ['user', 'set-superuser', E2E_USER.username]]) {
      const result = await runQuayside(r.work, ...args, '--config', config);
      assert.equal(result.code, 0, result.stderr);
    }
    const images = {
      acme1: await buildUmociImage(join(r.work, 'acme1'), 'v1', 64 * 1024),
      e2e1: await buildUmociImage(join(r.work, 'e2e1'), 'v1', 64 * 1024),
      acme2: await buildUmociImage(join(r.work, 'acme2'), 'v2', 64 * 1024),
      e2e2: await buildUmociImage(join(r.work, 'e2e2'), 'v2', 64 * 1024),
      acme3: await buildUmociImage(join(r.work, 'acme3'), 'v3', 64 * 1024),
    };
    const all = Object.values(images).flatMap(blobsOf);
    assert.equal(new Set(all).size, all.length, 'no blob is shared between the images');

    // Before ap is acme's: both namespaces' blobs go to the default locations only.
    await push(a, images.acme1, 'v1', 'acme/app:v1');
    await push(a, images.e2e1, 'v1', 'e2e/app:v1');
    await waitUntil('the first images in us and eu', () => placedIn([...blobsOf(images.acme1), ...blobsOf(images.e2e1)], 'eu,us'), 60_000, 50);

    // The superuser API on the running instance adds ap to acme.
    const signin = await fetch(`${a.url}/api/v1/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: E2E_USER.username, password: E2E_USER.password }),
    });
    assert.equal(signin.status, 200, await signin.text());
    const cookie = signin.headers.get('set-cookie')!.split(';')[0]!;
    const session = { cookie, 'content-type': 'application/json' };
    const locations = `${a.url}/api/v1/superuser/namespaces/acme/storagelocations`;
    const added = await fetch(`${locations}/ap`, { method: 'PUT', headers: session });
    assert.equal(added.status, 200);
    assert.deepEqual(((await added.json()) as { required_locations: string[] }).required_locations, ['us', 'eu', 'ap']);
    const refused = await fetch(`${locations}/${'m'.repeat(300)}`, { method: 'PUT', headers: session });
    assert.equal(refused.status, 400, 'a location name longer than any configured one is an unknown location');
    assert.match(((await refused.json()) as { error_message: string }).error_message, /is not in DISTRIBUTED_STORAGE_CONFIG \(us, eu, ap\)$/);

    await push(a, images.acme2, 'v2', 'acme/app:v2');
    await push(a, images.e2e2, 'v2', 'e2e/app:v2');
    await waitUntil('acme\'s new image in us, eu and ap', () => placedIn(blobsOf(images.acme2), 'ap,eu,us'), 60_000, 50);
    await waitUntil('e2e\'s new image in us and eu', () => placedIn(blobsOf(images.e2e2), 'eu,us'), 60_000, 50);
    for (const digest of blobsOf(images.acme2)) assert.equal(await fileDigest(join(r.work, 'ap', blobRelativePath(digest))), digest);
    for (const digest of [...blobsOf(images.e2e1), ...blobsOf(images.e2e2), ...blobsOf(images.acme1)]) assert.equal(inAp(digest), false, `${digest} not in ap`);

    // The backfill queues acme's earlier blobs for ap, and nothing of e2e's; the instance's worker copies them.
    const backfill = await runQuayside(r.work, 'storage', 'backfill', '--config', config);
    assert.equal(backfill.code, 0, backfill.stderr);
    assert.match(backfill.stdout, new RegExp(`^backfill ap: queued ${blobsOf(images.acme1).length} blob copies of the namespaces listing it \\(acme\\)`, 'm'));
    assert.match(backfill.stdout, /^backfill eu: queued 0 blob copies/m);
    await waitUntil('acme\'s first image in ap', () => placedIn(blobsOf(images.acme1), 'ap,eu,us'), 60_000, 50);
    for (const digest of blobsOf(images.acme1)) assert.equal(await fileDigest(join(r.work, 'ap', blobRelativePath(digest))), digest);
    assert.ok(await placedIn([...blobsOf(images.e2e1), ...blobsOf(images.e2e2)], 'eu,us'), 'e2e\'s blobs stay out of ap');
    await pullAndCompare(a, images.acme1, 'v1', 'acme/app:v1', join(r.work, 'pull-acme1'));

    // Removing ap from acme deletes nothing; acme's next push is no longer copied there.
    const removed = await fetch(`${locations}/ap`, { method: 'DELETE', headers: session });
    assert.equal(removed.status, 204);
    await push(a, images.acme3, 'v3', 'acme/app:v3');
    await waitUntil('acme\'s last image in us and eu', () => placedIn(blobsOf(images.acme3), 'eu,us'), 60_000, 50);
    for (const digest of blobsOf(images.acme3)) assert.equal(inAp(digest), false);
    assert.ok(await placedIn([...blobsOf(images.acme1), ...blobsOf(images.acme2)], 'ap,eu,us'), 'the copies made stay, placements included');
    for (const digest of [...blobsOf(images.acme1), ...blobsOf(images.acme2)]) assert.equal(inAp(digest), true);
  });
});

describe('geo-replication: STORAGE_READ_TIMEOUT_S and the circuit breaker keys take effect', { timeout: 600_000 }, () => {
  const r = rig('quayside-e2e-geotune-');

  async function writeConfig(name: string, keys: string[]): Promise<string> {
    const file = join(r.work, name);
    await writeFile(
      file,
      [
        `DB_URI: ${r.uri}`,
        'DISTRIBUTED_STORAGE_CONFIG:',
        `  us: [LocalStorage, {storage_path: ${join(r.work, 'us')}}]`,
        `  eu: [LocalStorage, {storage_path: ${join(r.work, 'eu')}}]`,
        'DISTRIBUTED_STORAGE_PREFERENCE: [us, eu]',
        'DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [us, eu]',
        'FEATURE_STORAGE_REPLICATION: true',
        ...keys,
        '',
      ].join('\n'),
    );
    return file;
  }

  test('a stalled us copy falls back to eu after the configured timeout; one failure opens the breaker only with STORAGE_BREAKER_FAILURES: 1', async () => {
    // Both instances prefer us and give a location half a second; only the first opens its breaker at once.
    const tripping = await r.instance(await writeConfig('tripping.yaml', ['STORAGE_READ_TIMEOUT_S: 0.5', 'STORAGE_BREAKER_FAILURES: 1', 'STORAGE_BREAKER_OPEN_S: 600']), 'us eu');
    const tolerant = await r.instance(await writeConfig('tolerant.yaml', ['STORAGE_READ_TIMEOUT_S: 0.5']), 'us eu');
    const stalled = await buildUmociImage(join(r.work, 'stalled'), 'v1', 64 * 1024);
    const healthy = await buildUmociImage(join(r.work, 'healthy'), 'v1', 64 * 1024);
    await push(tripping, stalled, 'v1', 'e2e/stalled:v1');
    await push(tripping, healthy, 'v1', 'e2e/healthy:v1');
    const digests = [...blobsOf(stalled), ...blobsOf(healthy)];
    await waitUntil('both images in us and eu', async () => {
      const { byDigest, jobs } = await r.placements(digests);
      return jobs === 0 && [...byDigest.values()].every((placed) => placed === 'eu,us');
    }, 60_000, 50);

    // us's copy of one layer becomes a named pipe: opening it waits for a writer that never comes.
    const layer = (JSON.parse(stalled.manifestBytes.toString()) as ManifestJson).layers[0]!.digest;
    const pipe = join(r.work, 'us', blobRelativePath(layer));
    await rm(pipe);
    await runOk('mkfifo', [pipe]);
    try {
      for (const [server, breaker] of [[tripping, 'open'], [tolerant, 'closed']] as const) {
        await pullAndCompare(server, stalled, 'v1', 'e2e/stalled:v1', join(r.work, `pull-stalled-${breaker}`));
        const lines = [...server.process.stdoutLines(), ...server.process.stderrLines()].filter((line) => line.includes('did not answer within 500 ms'));
        assert.equal(lines.length, 1, `one read of the pipe timed out after STORAGE_READ_TIMEOUT_S: ${lines.join('\n')}`);
        const logged = JSON.parse(lines[0]!) as { location: string; breaker: string; digest: string };
        assert.deepEqual([logged.location, logged.digest, logged.breaker], ['us', layer, breaker]);

        const metrics = async () => {
          const text = await (await fetch(server.metricsUrl)).text();
          return { us: counter(text, 'quayside_storage_reads_total', 'location="us"'), eu: counter(text, 'quayside_storage_reads_total', 'location="eu"') };
        };
        const before = await metrics();
        await pullAndCompare(server, healthy, 'v1', 'e2e/healthy:v1', join(r.work, `pull-healthy-${breaker}`));
        const after = await metrics();
        const count = blobsOf(healthy).length;
        // Open for STORAGE_BREAKER_OPEN_S: us is avoided although its copies are fine; closed: us serves them.
        assert.deepEqual({ us: after.us - before.us, eu: after.eu - before.eu }, breaker === 'open' ? { us: 0, eu: count } : { us: count, eu: 0 });
      }
    } finally {
      // Release the threads still waiting in open(): a writer (r+ never blocks) that closes at once.
      await (await open(pipe, 'r+')).close();
      await rm(pipe);
    }
  });
});
