// The object-storage benchmark (issue 11): quayside on S3Storage (Swift's s3api) and on SwiftStorage (Keystone
// v3), side by side in one run with CNCF distribution 2.8 on its own `s3` and `swift` drivers against the same
// local Swift. Per driver: push of a big blob (monolithic, and in chunks), pull on 1 and 8 streams (through the
// 307 to the storage for quayside; distribution as it is configured by default), a chunked push whose chunks
// alternate between two quayside instances (against the same push on one instance), and peak RSS.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, Agent, type IncomingMessage } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startObjectStorage, type ObjectStorageDescription } from '../test/helpers/object-storage/server.js';
import { keystoneToken } from '../test/helpers/object-storage/keystone.js';
import { startTempauthS3Proxy, type TempauthS3Proxy } from '../test/storage/s3-tempauth-proxy.js';
import { distributionVersion, startDistribution, startQuayside, type RegistryServer } from '../test/helpers/processes.js';
import { freshDatabase, type FreshDatabase } from '../test/helpers/databases.js';
import { registryToken } from '../test/helpers/registry-auth.js';
import { sampleMemory, timed } from './measure.js';
import { GeneratedBlob, RegistryClient } from './registry-client.js';
import { renderTable, verdict, type Cell, type Row } from './registry-report.js';

const MiB = 1024 * 1024;
const MB = 1e6;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    drivers: { type: 'string', default: 'S3Storage,SwiftStorage' },
    'token-cache-seconds': { type: 'string' },
    'own-swift-tokens': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  process.stdout.write(
    'usage: node dist/bench/object-storage.js [--quick] [--json FILE] [--drivers S3Storage,SwiftStorage]\n  --quick: a 128 MiB blob and 16 MiB chunks instead of 1 GiB and 64 MiB\n  --drivers: the drivers to measure, comma-separated (default both)\n  --token-cache-seconds N: the Swift proxy\'s authtoken token_cache_time (default 300, keystonemiddleware\'s; the tests use 10)\n  --own-swift-tokens: STORAGE_SWIFT_SHARED_TOKEN: false (every quayside process its own Swift token, as before the fleet shared one)\n',
  );
  process.exit(0);
}
const sizes = flags.quick ? { blob: 128 * MiB, chunk: 16 * MiB, streams: 8 } : { blob: 1024 * MiB, chunk: 64 * MiB, streams: 8 };

const DRIVERS = ['S3Storage', 'SwiftStorage'] as const;
type Driver = (typeof DRIVERS)[number];
const drivers = (flags.drivers ?? '').split(',').map((name) => name.trim());
// A production Swift proxy trusts a validated Keystone token for keystonemiddleware's default of 300 s; the test
// rig's 10 s (so that tests see a revoked token refused within seconds) would make the benchmark measure
// Keystone validating each process's token every 10 s. `--token-cache-seconds 10` measures the rig's setting.
const KEYSTONEMIDDLEWARE_DEFAULT_S = 300;
const tokenCacheSeconds = flags['token-cache-seconds'] === undefined ? KEYSTONEMIDDLEWARE_DEFAULT_S : Number(flags['token-cache-seconds']);
if (!Number.isSafeInteger(tokenCacheSeconds) || tokenCacheSeconds < 1) {
  process.stderr.write(`object-storage benchmark: --token-cache-seconds wants a whole number of seconds, not ${JSON.stringify(flags['token-cache-seconds'])}\n`);
  process.exit(2);
}
for (const name of drivers) {
  if (!(DRIVERS as readonly string[]).includes(name)) {
    process.stderr.write(`object-storage benchmark: unknown driver ${JSON.stringify(name)} in --drivers (S3Storage, SwiftStorage)\n`);
    process.exit(2);
  }
}

/** The user who owns the `bench` namespace on quayside (distribution is anonymous). */
const BENCH_USER = { username: 'bench', password: 'bench-password-0123456789' };

/** The metadata databases made for the run, dropped at its end. */
const databases: FreshDatabase[] = [];

/** A blob GET that follows one redirect to the storage (without the registry's Authorization), as docker does. */
async function pullFollowing(client: RegistryClient, storageAgent: Agent, repository: string, digest: string, hash?: ReturnType<typeof createHash>): Promise<number> {
  const first = await client.send('GET', `/v2/${repository}/blobs/${digest}`, { discard: true, hash });
  if (first.status === 200) return first.bytes;
  if (first.status !== 307 && first.status !== 302) throw new Error(`blob GET answered ${first.status}: ${first.body.toString().slice(0, 200)}`);
  const location = first.headers.location;
  if (location === undefined) throw new Error('redirect without a Location');
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(location), { agent: storageAgent }, (res: IncomingMessage) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash?.update(chunk);
      });
      res.on('end', () => (res.statusCode === 200 ? resolve(bytes) : reject(new Error(`storage GET answered ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A chunked push whose PATCHes alternate between clients of different instances. */
async function pushAlternating(clients: RegistryClient[], repository: string, blob: GeneratedBlob, chunkSize: number): Promise<void> {
  let upload = await clients[0]!.startUpload(repository);
  let index = 0;
  for (let start = 0; start < blob.size; start += chunkSize, index += 1) {
    const end = Math.min(blob.size, start + chunkSize);
    const client = clients[index % clients.length]!;
    const target = new URL(upload.pathname + upload.search, client.base);
    const res = await client.expect(202, 'PATCH', target.toString(), {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - start), 'content-range': `${start}-${end - 1}` },
      body: blob.chunks(start, end),
    });
    upload = new URL(res.headers.location as string, client.base);
  }
  const last = clients[index % clients.length]!;
  const target = new URL(upload.pathname + upload.search, last.base);
  target.searchParams.set('digest', blob.digest());
  await last.expect(201, 'PUT', target.toString(), { headers: { 'content-length': '0' } });
}

/**
 * The S3 endpoint both registries use: s3api on a proxy of its own with tempauth's S3 keys. The shared proxy's
 * s3token asks Keystone about every S3 request (0.25-4 s each here), which would measure Keystone.
 */
let s3Endpoint: TempauthS3Proxy | undefined;

function s3Credentials(): { endpoint: string; accessKeyId: string; secretAccessKey: string } {
  if (s3Endpoint === undefined) throw new Error('the tempauth S3 proxy is not started');
  return s3Endpoint;
}

function s3Client(storage: ObjectStorageDescription): S3Client {
  return new S3Client({
    endpoint: s3Credentials().endpoint,
    region: storage.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3Credentials().accessKeyId, secretAccessKey: s3Credentials().secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

async function createContainer(storage: ObjectStorageDescription, name: string): Promise<void> {
  const { keystone } = storage;
  const { token } = await keystoneToken(keystone.authUrl, { name: keystone.username, password: keystone.password, projectName: keystone.projectName });
  const response = await fetch(`${keystone.storageUrl}/${name}`, { method: 'PUT', headers: { 'x-auth-token': token } });
  await response.arrayBuffer();
  if (response.status !== 201 && response.status !== 202) throw new Error(`container PUT ${name} answered ${response.status}`);
}

/** quayside's DISTRIBUTED_STORAGE_CONFIG entry for the driver, in a fresh bucket or container. */
async function quaysideLocation(storage: ObjectStorageDescription, driver: Driver): Promise<string> {
  const name = `bench-quayside-${driver.toLowerCase()}-${Date.now()}`;
  if (driver === 'S3Storage') {
    await s3Client(storage).send(new CreateBucketCommand({ Bucket: name }));
    const { endpoint, accessKeyId, secretAccessKey } = s3Credentials();
    return `[S3Storage, ${JSON.stringify({ s3_bucket: name, storage_path: '/registry', s3_access_key: accessKeyId, s3_secret_key: secretAccessKey, s3_region: storage.s3.region, endpoint_url: endpoint })}]`;
  }
  await createContainer(storage, name);
  const { keystone } = storage;
  return `[SwiftStorage, ${JSON.stringify({
    auth_url: keystone.authUrl,
    auth_version: 3,
    swift_user: keystone.username,
    swift_password: keystone.password,
    swift_container: name,
    storage_path: '/registry',
    temp_url_key: storage.tempUrlKey,
    os_options: { project_name: keystone.projectName, user_domain_name: keystone.userDomainName, project_domain_name: keystone.projectDomainName, region_name: keystone.regionName },
  })}]`;
}

/** distribution's `storage:` driver lines for the same backend, in a bucket or container of its own. */
async function distributionStorage(storage: ObjectStorageDescription, driver: Driver): Promise<string[]> {
  const name = `bench-distribution-${driver.toLowerCase()}-${Date.now()}`;
  if (driver === 'S3Storage') {
    await s3Client(storage).send(new CreateBucketCommand({ Bucket: name }));
    return [
      '  s3:',
      `    accesskey: ${s3Credentials().accessKeyId}`,
      `    secretkey: ${s3Credentials().secretAccessKey}`,
      `    region: ${storage.s3.region}`,
      `    regionendpoint: ${s3Credentials().endpoint}`,
      `    bucket: ${name}`,
      '    secure: false',
      '    v4auth: true',
      '    rootdirectory: /registry',
    ];
  }
  await createContainer(storage, name);
  const { keystone } = storage;
  return [
    '  swift:',
    `    authurl: ${keystone.authUrl}`,
    `    username: ${keystone.username}`,
    `    password: ${keystone.password}`,
    `    container: ${name}`,
    `    tenant: ${keystone.projectName}`,
    `    domain: ${keystone.userDomainName}`,
    `    region: ${keystone.regionName}`,
    '    authversion: 3',
    '    rootdirectory: /registry',
    // distribution 2.8's swift temp URLs are refused by this Swift (401), so it streams blobs itself here.
    '  redirect:',
    '    disable: true',
  ];
}

interface Side {
  server: RegistryServer;
  client: RegistryClient;
  /** A second instance on the same database and storage (quayside only). */
  second?: { server: RegistryServer; client: RegistryClient };
}

async function startSides(storage: ObjectStorageDescription, driver: Driver, work: string): Promise<{ distribution: Side; quayside: Side }> {
  // distribution's s3 driver (aws-sdk-go v1) cannot start with AWS_CA_BUNDLE set ("unsupported transport"); the
  // storage here is plain http, so it goes without.
  const { AWS_CA_BUNDLE: _unused, ...env } = process.env;
  const distributionServer = await startDistribution({ storageDriver: await distributionStorage(storage, driver), env, outputFile: join(work, `distribution-${driver}.log`), maxLines: 50 });
  const config = join(work, `quayside-${driver}.yaml`);
  // Two instances share the metadata as a fleet does: a database of their own on the local PostgreSQL.
  const database = await freshDatabase('postgres');
  databases.push(database);
  const lines = [`DB_URI: ${database.uri}`, 'DISTRIBUTED_STORAGE_CONFIG:', `  objects: ${await quaysideLocation(storage, driver)}`, 'DISTRIBUTED_STORAGE_PREFERENCE: [objects]'];
  // Both instances (and their workers) share one Swift token through the database unless told otherwise.
  if (flags['own-swift-tokens']) lines.push('STORAGE_SWIFT_SHARED_TOKEN: false');
  await writeFile(config, [...lines, ''].join('\n'));
  // The second instance streams blob GETs itself (FEATURE_PROXY_STORAGE), so that a pull goes through a
  // quayside process too and its memory is measured; uploads behave the same on both.
  const proxyingConfig = join(work, `quayside-${driver}-proxying.yaml`);
  await writeFile(proxyingConfig, [...lines, 'FEATURE_PROXY_STORAGE: true', ''].join('\n'));
  const first = await startQuayside({ config, dataDir: await mkdtemp(join(work, 'q1-')), outputFile: join(work, `quayside-${driver}-1.log`), maxLines: 50, user: BENCH_USER });
  const second = await startQuayside({ config: proxyingConfig, dataDir: await mkdtemp(join(work, 'q2-')), outputFile: join(work, `quayside-${driver}-2.log`), maxLines: 50, user: false });
  // A token names the instance it was issued for (its service), so each instance's client holds its own.
  const clientOf = async (server: RegistryServer) => {
    const token = await registryToken(server.url, ['repository:bench/big:pull,push', 'repository:bench/alternate:pull,push'], BENCH_USER);
    const client = new RegistryClient(server.url);
    client.defaultHeaders = { authorization: `Bearer ${token}` };
    return client;
  };
  return {
    distribution: { server: distributionServer, client: new RegistryClient(distributionServer.url) },
    quayside: { server: first, client: await clientOf(first), second: { server: second, client: await clientOf(second) } },
  };
}

/** Rounds of the one-instance/two-instance chunked push comparison. */
const ALTERNATE_ROUNDS = 3;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function cellOf(work: () => Promise<number>): Promise<Cell> {
  return work().then(
    (value) => ({ value }),
    (error: unknown) => ({ error: error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error) }),
  );
}

async function benchDriver(storage: ObjectStorageDescription, driver: Driver, work: string): Promise<Row[]> {
  const sides = await startSides(storage, driver, work);
  const storageAgent = new Agent({ keepAlive: true, maxSockets: 32 });
  const blob = new GeneratedBlob(sizes.blob);
  const sizeMb = sizes.blob / MB;
  const rows: Row[] = [];
  try {
    const both = async (measure: (side: Side, name: 'distribution' | 'quayside') => Promise<number>) => ({
      distribution: await cellOf(() => measure(sides.distribution, 'distribution')),
      quayside: await cellOf(() => measure(sides.quayside, 'quayside')),
    });
    // Peak RSS of each registry's largest process, per phase: the sampler runs over one measurement of both sides.
    const peaksOf = async <T>(work: () => Promise<T>): Promise<{ result: T; distribution: number; quayside: number }> => {
      const samplers = [sampleMemory(sides.distribution.server.process.pid), sampleMemory(sides.quayside.server.process.pid), sampleMemory(sides.quayside.second!.server.process.pid)];
      const result = await work();
      const [distribution, first, second] = samplers.map((sampler) => sampler.stop().peakRssMb) as [number, number, number];
      return { result, distribution, quayside: Math.max(first, second) };
    };
    const memoryRow = (what: string, peaks: { distribution: number; quayside: number }): Row => ({
      label: `${driver}: peak RSS, ${what}`,
      unit: 'MB',
      better: 'lower',
      distribution: { value: peaks.distribution },
      quayside: { value: peaks.quayside },
      target: { maxQuayside: 150 },
    });
    const mono = await peaksOf(() => both(async (side) => sizeMb / (await timed(() => side.client.pushMonolithic('bench/big', blob)))));
    rows.push({ label: `${driver}: push ${sizes.blob / MiB} MiB, monolithic`, unit: 'MB/s', better: 'higher', ...mono.result, target: { minRatio: 1.0 } });
    const chunked = await peaksOf(() => both(async (side) => sizeMb / (await timed(() => side.client.pushChunked('bench/big', blob, sizes.chunk)))));
    rows.push({ label: `${driver}: push ${sizes.blob / MiB} MiB, ${sizes.chunk / MiB} MiB chunks`, unit: 'MB/s', better: 'higher', ...chunked.result, target: { minRatio: 1.0 } });

    const pullOne = await peaksOf(() => both(async (side) => {
      const hash = createHash('sha256');
      const received = await pullFollowing(side.client, storageAgent, 'bench/big', blob.digest(), hash);
      if (received !== blob.size || `sha256:${hash.digest('hex')}` !== blob.digest()) throw new Error('pulled bytes differ from the pushed blob');
      return sizeMb / (await timed(() => pullFollowing(side.client, storageAgent, 'bench/big', blob.digest())));
    }));
    rows.push({ label: `${driver}: pull, 1 stream`, unit: 'MB/s', better: 'higher', ...pullOne.result, target: { minRatio: 1.0 } });
    const pullMany = await both(async (side) => {
      const seconds = await timed(() => Promise.all(Array.from({ length: sizes.streams }, () => pullFollowing(side.client, storageAgent, 'bench/big', blob.digest()))));
      return (sizeMb * sizes.streams) / seconds;
    });
    rows.push({ label: `${driver}: pull, ${sizes.streams} streams (aggregate)`, unit: 'MB/s', better: 'higher', ...pullMany, target: { minRatio: 1.0 } });
    // The same pull through the second instance, which streams the bytes itself (FEATURE_PROXY_STORAGE).
    const proxied = await peaksOf(() =>
      cellOf(async () => {
        const client = sides.quayside.second!.client;
        const hash = createHash('sha256');
        const seconds = await timed(async () => {
          const received = await pullFollowing(client, storageAgent, 'bench/big', blob.digest(), hash);
          if (received !== blob.size) throw new Error(`proxied pull gave ${received} bytes`);
        });
        if (`sha256:${hash.digest('hex')}` !== blob.digest()) throw new Error('proxied pull: bytes differ from the pushed blob');
        return sizeMb / seconds;
      }),
    );
    rows.push({
      label: `${driver}: pull, 1 stream, quayside proxying (FEATURE_PROXY_STORAGE)`,
      unit: 'MB/s',
      better: 'higher',
      distribution: pullOne.result.distribution,
      quayside: proxied.result,
      note: 'distribution as in the pull row above',
    });
    rows.push(memoryRow('monolithic push', mono));
    rows.push(memoryRow(`${sizes.chunk / MiB} MiB-chunk push`, chunked));
    rows.push(memoryRow('pull through the redirect', pullOne));
    rows.push(memoryRow('pull proxied by quayside', { distribution: pullOne.distribution, quayside: proxied.quayside }));

    // Chunked across two instances vs the same push on one: the ratio is quayside against itself.
    // Interleaved rounds, the median of each: one push of each kind depends on what the storage is doing at that
    // moment (Swift's container updates and the page cache of earlier pushes), which once made the ratio 0.72x
    // or 0.85x in single runs.
    const second = sides.quayside.second!;
    const oneRuns: number[] = [];
    const twoRuns: number[] = [];
    for (let round = 0; round < ALTERNATE_ROUNDS; round++) {
      oneRuns.push(sizeMb / (await timed(() => sides.quayside.client.pushChunked('bench/alternate', new GeneratedBlob(sizes.blob), sizes.chunk))));
      twoRuns.push(sizeMb / (await timed(() => pushAlternating([sides.quayside.client, second.client], 'bench/alternate', new GeneratedBlob(sizes.blob), sizes.chunk))));
    }
    process.stdout.write(`${driver}: chunked push MB/s, one instance ${oneRuns.map((v) => v.toFixed(1)).join(', ')}; alternating two ${twoRuns.map((v) => v.toFixed(1)).join(', ')}\n`);
    const oneInstance = await cellOf(async () => median(oneRuns));
    const twoInstances = await cellOf(async () => median(twoRuns));
    rows.push({
      label: `${driver}: quayside chunked push, one instance (left) vs alternating two (right)`,
      unit: 'MB/s',
      better: 'higher',
      distribution: oneInstance,
      quayside: twoInstances,
      target: { minRatio: 0.9 },
      note: 'both columns are quayside: the left one is the single-instance push',
    });
  } finally {
    storageAgent.destroy();
    sides.distribution.client.close();
    sides.quayside.client.close();
    sides.quayside.second?.client.close();
    await sides.distribution.server.stop();
    await sides.quayside.server.stop();
    await sides.quayside.second?.server.stop();
  }
  return rows;
}

async function main(): Promise<number> {
  const load = loadavg()[0] ?? 0;
  console.log(`object-storage benchmark: ${distributionVersion()}, node ${process.version}, blob ${sizes.blob / MiB} MiB, chunks ${sizes.chunk / MiB} MiB`);
  console.log(`load average at start: ${load.toFixed(2)}${load > availableParallelism() / 2 ? ' (WARNING: the machine is busy; figures will be noisy)' : ''}`);
  const work = await mkdtemp(join(tmpdir(), 'quayside-bench-objects-'));
  console.log('starting Swift (tempauth, Keystone v3, s3api) ...');
  console.log(`Swift proxy: authtoken token_cache_time = ${tokenCacheSeconds} s; quayside's Swift token: ${flags['own-swift-tokens'] ? 'one per process' : 'shared by the fleet'}`);
  const storage = await startObjectStorage({ tokenCacheSeconds });
  const rows: Row[] = [];
  try {
    s3Endpoint = await startTempauthS3Proxy(storage.description);
    for (const driver of DRIVERS.filter((name) => drivers.includes(name))) {
      console.log(`${driver} ...`);
      rows.push(...(await benchDriver(storage.description, driver, work)));
    }
  } finally {
    await s3Endpoint?.stop();
    await storage.stop();
    for (const database of databases) await database.drop();
  }
  console.log(renderTable(rows));
  if (flags.json) await writeFile(flags.json, JSON.stringify(rows, null, 2));
  const failed = rows.some((row) => 'error' in row.distribution || 'error' in row.quayside);
  if (!failed) await rm(work, { recursive: true, force: true });
  else console.log(`logs kept in ${work}`);
  console.log(rows.map((row) => `${verdict(row)}  ${row.label}`).join('\n'));
  return failed ? 1 : 0;
}

process.exitCode = await main();
