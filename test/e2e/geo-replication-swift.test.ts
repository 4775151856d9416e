// Geo-replication on real object storage: two Swift locations on two independent Swift clusters (us on the
// run's server, eu on the second cluster of test/helpers/object-storage), each behind a proxy of this test's
// own so that it may be stopped. Instance A prefers us, B prefers eu (QUAY_DISTRIBUTED_STORAGE_PREFERENCE).
// skopeo pushes through A; the blobs reach eu; each instance serves pulls from its own location; eu's proxy
// stopped, pulls through B keep working byte for byte with no failed request, and eu is used again once it
// is back; a third location (ap: another container of us's account, so copies are server-side) is filled
// by `quayside storage backfill`. Then a mixed setup: Swift (us) and S3 through s3api (eu).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { openDatabase, type Database } from '../../src/db/database.js';
import { runQuayside } from '../helpers/cli.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { objectStorage, randomName, secondSwift, type PrivateProxy } from '../helpers/object-storage/index.js';
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

/** The counter's value for `labels` in a Prometheus text exposition (0 when absent). */
function counter(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

/** A SwiftStorage location through tempauth (v1) on `proxy`, failing fast when the proxy is down. No temp URL
 * key: blob GETs stream through quayside, so its fallback is what the client sees. */
function swiftLocation(proxy: PrivateProxy, user: string, key: string, container: string): string {
  const params = { auth_url: `${proxy.url}/auth/v1.0`, auth_version: 1, swift_user: user, swift_password: key, swift_container: container, storage_path: '/registry', connect_timeout: 2, retry_count: 1 };
  return `[SwiftStorage, ${JSON.stringify(params)}]`;
}

type Instance = RegistryServer & { metricsUrl: string };

describe('geo-replication on two Swift clusters', { timeout: 900_000 }, () => {
  let work: string;
  let fresh: FreshDatabase;
  let db: Database;
  let usProxy: PrivateProxy;
  let euProxy: PrivateProxy;
  let v1: { user: string; key: string };
  const running: RegistryServer[] = [];
  const containers = { us: randomName('geo-us'), eu: randomName('geo-eu'), ap: randomName('geo-ap') };

  before(async () => {
    requireCommand('skopeo', 'apt-get install skopeo');
    requireCommand('umoci', 'apt-get install umoci');
    const [first, second] = await Promise.all([objectStorage(), secondSwift()]);
    // Keystone stays out of these proxies' pipelines: tempauth tokens are checked locally.
    [usProxy, euProxy] = await Promise.all([first.startPrivateProxy({ auth: 'tempauth-only' }), second.startPrivateProxy()]);
    v1 = { user: first.v1.user, key: first.v1.key };
    work = await mkdtemp(join(tmpdir(), 'quayside-e2e-geo-swift-'));
    fresh = await freshDatabase('postgres');
    db = await openDatabase({ uri: fresh.uri });
  });

  after(async () => {
    for (const server of running) await server.stop().catch(() => undefined);
    await Promise.all([usProxy?.stop(), euProxy?.stop()]);
    await db?.close();
    await fresh?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function writeConfig(withAp: boolean): Promise<string> {
    const file = join(work, withAp ? 'config-ap.yaml' : 'config.yaml');
    const names = withAp ? 'us, eu, ap' : 'us, eu';
    await writeFile(
      file,
      [
        `DB_URI: ${fresh.uri}`,
        'DISTRIBUTED_STORAGE_CONFIG:',
        `  us: ${swiftLocation(usProxy, v1.user, v1.key, containers.us)}`,
        `  eu: ${swiftLocation(euProxy, v1.user, v1.key, containers.eu)}`,
        ...(withAp ? [`  ap: ${swiftLocation(usProxy, v1.user, v1.key, containers.ap)}`] : []),
        `DISTRIBUTED_STORAGE_PREFERENCE: [${names}]`,
        `DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [${names}]`,
        'FEATURE_STORAGE_REPLICATION: true',
        '',
      ].join('\n'),
    );
    return file;
  }

  async function instance(config: string, preference: string): Promise<Instance> {
    const server = await startQuayside({
      config,
      user: running.length === 0 ? E2E_USER : false,
      env: { QUAY_DISTRIBUTED_STORAGE_PREFERENCE: preference, QUAYSIDE_WORKERS: '1' },
      serveArgs: ['--metrics-port', '0'],
    });
    running.push(server);
    const line = await server.process.waitForLine(/quayside metrics on (http:\/\/\S+)/);
    const withUser = { ...server, credentials: E2E_USER, metricsUrl: line.match(/(http:\/\/\S+)/)![1]! };
    await skopeoLogin(withUser, work);
    return withUser;
  }

  async function placedIn(digests: readonly string[], locations: readonly string[]): Promise<boolean> {
    const rows = await db.db.selectFrom('blob_placement').select(['digest', 'location']).where('digest', 'in', [...digests]).execute();
    const held = new Set(rows.map((row) => `${row.digest} ${row.location}`));
    return digests.every((digest) => locations.every((location) => held.has(`${digest} ${location}`)));
  }

  const ref = (server: RegistryServer, path: string) => `docker://${server.hostPort}/${path}`;
  const metricsOf = async (server: Instance) => (await fetch(server.metricsUrl)).text();

  async function pullAndCompare(server: RegistryServer, image: LayoutImage, name: string): Promise<void> {
    const out = join(work, `pull-${name}`);
    await rm(out, { recursive: true, force: true });
    await skopeo(['copy', '--src-tls-verify=false', ref(server, 'e2e/geo:v1'), `oci:${out}:v1`]);
    const pulled = await readLayoutImage(out, 'v1');
    assert.ok(pulled.manifestBytes.equals(image.manifestBytes));
    assert.deepEqual(await hashLayoutBlobs(out), await hashLayoutBlobs(image.dir), 'byte for byte');
  }

  /** Request log lines of `server` answered with a 5xx. */
  function failedRequests(server: RegistryServer): string[] {
    return [...server.process.stdoutLines(), ...server.process.stderrLines()].filter((line) => /"statusCode":5\d\d/.test(line));
  }

  test('push through us, replication to eu, own-location reads, failover of eu and its return, backfill of a third location', async () => {
    const config = await writeConfig(false);
    const a = await instance(config, 'us eu');
    const b = await instance(config, 'eu us');
    const image = await buildUmociImage(join(work, 'img'), 'v1', 2 * 1024 * 1024);
    const digests = blobsOf(image);
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, ref(a, 'e2e/geo:v1')]);
    const replicatedIn = Date.now();
    await waitUntil('every blob placed in us and eu', () => placedIn(digests, ['us', 'eu']), 120_000, 100);
    process.stdout.write(`# replicated ${digests.length} blobs us -> eu in ${Date.now() - replicatedIn} ms after the push\n`);
    const streamed = counter(await metricsOf(a), 'quayside_replication_bytes_copied_total', 'location="eu",mode="streamed"') +
      counter(await metricsOf(b), 'quayside_replication_bytes_copied_total', 'location="eu",mode="streamed"');
    assert.ok(streamed > 2 * 1024 * 1024, `two clusters: the copies are streamed (${streamed} bytes)`);

    // Each instance reads from its own location.
    await pullAndCompare(b, image, 'b-own');
    await pullAndCompare(a, image, 'a-own');
    let metricsB = await metricsOf(b);
    assert.ok(counter(metricsB, 'quayside_storage_reads_total', 'location="eu"') >= digests.length - 1);
    assert.equal(counter(metricsB, 'quayside_storage_reads_total', 'location="us"'), 0);
    const metricsA = await metricsOf(a);
    assert.ok(counter(metricsA, 'quayside_storage_reads_total', 'location="us"') >= digests.length - 1);
    assert.equal(counter(metricsA, 'quayside_storage_reads_total', 'location="eu"'), 0);

    // eu's Swift proxy goes away: B's pulls fall back to us, byte for byte, with no failed request.
    await euProxy.stop();
    await pullAndCompare(b, image, 'b-failover-1');
    await pullAndCompare(b, image, 'b-failover-2');
    metricsB = await metricsOf(b);
    assert.ok(counter(metricsB, 'quayside_storage_reads_total', 'location="us"') >= digests.length - 1, 'served from us');
    assert.ok(counter(metricsB, 'quayside_storage_fallback_reads_total', 'location="eu"') >= 1, 'fallbacks from eu counted');
    assert.deepEqual(failedRequests(b), [], 'no request failed');
    // An outage is not a lost copy: verify reports eu's placements unreachable and --repair leaves them.
    const verifyDown = await runQuayside(work, 'storage', 'verify', '--repair', '--config', config);
    assert.equal(verifyDown.code, 1, verifyDown.stdout + verifyDown.stderr);
    assert.equal(verifyDown.stdout.split('\n').filter((line) => line.startsWith('unreachable ') && line.includes(' in eu: ')).length, digests.length, verifyDown.stdout);
    assert.match(verifyDown.stderr, /^warning: storage location eu: /m);
    assert.match(verifyDown.stdout, new RegExp(`, ${digests.length} unreachable, 0 in unknown locations, 0 repaired in`));
    assert.ok(await placedIn(digests, ['us', 'eu']), 'no placement forgotten');

    // eu is back: once its breaker lets a trial through, B reads from eu again.
    await euProxy.start();
    const euReads = counter(metricsB, 'quayside_storage_reads_total', 'location="eu"');
    let round = 0;
    await waitUntil('B reads from eu again', async () => {
      await pullAndCompare(b, image, `b-back-${(round += 1)}`);
      return counter(await metricsOf(b), 'quayside_storage_reads_total', 'location="eu"') > euReads;
    }, 90_000, 2_000);
    assert.deepEqual(failedRequests(b), [], 'no request failed');
    await a.stop();
    await b.stop();

    // A third location: the backfill queues every blob for it, with progress; an instance copies them.
    const withAp = await writeConfig(true);
    const backfill = await runQuayside(work, 'storage', 'backfill', '--config', withAp, '--location', 'ap');
    assert.equal(backfill.code, 0, backfill.stderr);
    assert.match(backfill.stderr, new RegExp(`^backfill ap: ${digests.length}/${digests.length}$`, 'm'), 'the progress shows');
    assert.match(backfill.stdout, new RegExp(`^backfill ap: queued ${digests.length} blob copies`, 'm'));
    const c = await instance(withAp, 'us eu ap');
    await waitUntil('every blob placed in ap', () => placedIn(digests, ['us', 'eu', 'ap']), 120_000, 100);
    const serverSide = counter(await metricsOf(c), 'quayside_replication_bytes_copied_total', 'location="ap",mode="server-side"');
    assert.ok(serverSide > 2 * 1024 * 1024, `us and ap share a cluster and account: server-side copies (${serverSide} bytes)`);
    const verify = await runQuayside(work, 'storage', 'verify', '--config', withAp);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, new RegExp(`^verified ${digests.length * 3} placements: ${digests.length * 3} ok`, 'm'));
    await c.stop();
  });
});

describe('geo-replication between Swift and S3 (s3api on the second cluster)', { timeout: 600_000 }, () => {
  let work: string;
  let fresh: FreshDatabase;
  let db: Database;
  const running: RegistryServer[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'quayside-e2e-geo-mixed-'));
    fresh = await freshDatabase('postgres');
    db = await openDatabase({ uri: fresh.uri });
  });

  after(async () => {
    for (const server of running) await server.stop().catch(() => undefined);
    await db?.close();
    await fresh?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a push to the Swift location reaches the S3 one; the instance preferring S3 pulls from it', async () => {
    const [first, second] = await Promise.all([objectStorage(), secondSwift()]);
    const bucket = randomName('geo-s3');
    const admin = new S3Client({
      endpoint: second.s3.endpoint,
      region: second.s3.region,
      forcePathStyle: true,
      credentials: second.s3.tempauth,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    admin.destroy();
    const swift = { auth_url: first.v1.authUrl, auth_version: 1, swift_user: first.v1.user, swift_password: first.v1.key, swift_container: randomName('geo-mixed'), storage_path: '/registry' };
    const s3 = { s3_bucket: bucket, storage_path: '/registry', s3_access_key: second.s3.tempauth.accessKeyId, s3_secret_key: second.s3.tempauth.secretAccessKey, s3_region: second.s3.region, endpoint_url: second.s3.endpoint };
    const config = join(work, 'config.yaml');
    await writeFile(
      config,
      [
        `DB_URI: ${fresh.uri}`,
        'DISTRIBUTED_STORAGE_CONFIG:',
        `  us: [SwiftStorage, ${JSON.stringify(swift)}]`,
        `  eu: [S3Storage, ${JSON.stringify(s3)}]`,
        'DISTRIBUTED_STORAGE_PREFERENCE: [us, eu]',
        'DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [us, eu]',
        'FEATURE_STORAGE_REPLICATION: true',
        // Blob GETs stream through quayside (no 307 to a presigned URL), so its reads are counted.
        'FEATURE_PROXY_STORAGE: true',
        '',
      ].join('\n'),
    );
    const start = async (preference: string) => {
      const server = await startQuayside({ config, user: running.length === 0 ? E2E_USER : false, env: { QUAY_DISTRIBUTED_STORAGE_PREFERENCE: preference, QUAYSIDE_WORKERS: '1' }, serveArgs: ['--metrics-port', '0'] });
      running.push(server);
      const line = await server.process.waitForLine(/quayside metrics on (http:\/\/\S+)/);
      const withUser = { ...server, credentials: E2E_USER, metricsUrl: line.match(/(http:\/\/\S+)/)![1]! };
      await skopeoLogin(withUser, work);
      return withUser;
    };
    const a = await start('us eu');
    const b = await start('eu us');
    const image = await buildUmociImage(join(work, 'img'), 'v1');
    const digests = blobsOf(image);
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, `docker://${a.hostPort}/e2e/mixed:v1`]);
    await waitUntil('every blob placed in eu (S3)', async () => {
      const rows = await db.db.selectFrom('blob_placement').select('digest').where('location', '=', 'eu').where('digest', 'in', digests).execute();
      return rows.length === digests.length;
    }, 120_000, 100);
    const out = join(work, 'pull');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${b.hostPort}/e2e/mixed:v1`, `oci:${out}:v1`]);
    assert.deepEqual(await hashLayoutBlobs(out), await hashLayoutBlobs(image.dir));
    const metrics = await (await fetch(b.metricsUrl)).text();
    assert.ok(counter(metrics, 'quayside_storage_reads_total', 'location="eu"') >= digests.length - 1, 'B pulls from S3');
    assert.equal(counter(metrics, 'quayside_storage_reads_total', 'location="us"'), 0);
  });
});
