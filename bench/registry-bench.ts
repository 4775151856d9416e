// Registry benchmark: the same workloads against CNCF distribution and `quayside serve`, started side by side
// in one run on this machine, and one table comparing them. See bench/README.md ("Registry").
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { distributionVersion, REPO_ROOT, startDistribution, startQuayside, type Credentials, type RegistryServer } from '../test/helpers/processes.js';
import { registryToken } from '../test/helpers/registry-auth.js';
import { GeneratedBlob, RegistryClient } from './registry-client.js';
import { renderTable, verdict, type Cell, type Row } from './registry-report.js';
import { headLoad } from './registry-head-load.js';
import { cpuSecondsOfTree, sampleMemory, timed, type MemoryPeaks } from './measure.js';
import { runWrk, type WrkResult } from './registry-wrk.js';
import { redisConfigLines, supportsRedis, supportsWorkers } from './registry-variants.js';
import { loginLoad, startHtpasswdDistribution } from './registry-token-load.js';
import { seedSmallImage } from './seed-small-image.js';

const MiB = 1024 * 1024;
const MB = 1_000_000;

interface Sizes {
  blobBytes: number;
  chunkBytes: number;
  pullStreams: number;
  wrkSeconds: number;
  wrkThreads: number;
  wrkConnections: number;
  smallBlobs: number;
  smallBlobBytes: number;
  smallConcurrency: number;
}

const FULL: Sizes = {
  blobBytes: 1024 * MiB,
  chunkBytes: 64 * MiB,
  pullStreams: 8,
  wrkSeconds: 10,
  wrkThreads: 2,
  wrkConnections: 64,
  smallBlobs: 500,
  smallBlobBytes: 4096,
  smallConcurrency: 16,
};

// --quick keeps every workload but shrinks it; 16 MiB chunks so the chunked push still sends several PATCHes.
const QUICK: Sizes = { ...FULL, blobBytes: 64 * MiB, chunkBytes: 16 * MiB, wrkSeconds: 3, smallBlobs: 100 };

const USAGE = `usage: node dist/bench/registry-bench.js [--quick] [--json FILE] [--config FILE] [--workers N|auto] [--no-redis]
                                          [--quayside-url URL [--quayside-pid PID] --credentials USER:PASSWORD]

  --quick          64 MiB blob, 3 s wrk runs, 100 small blobs (a smoke run)
  --json FILE      also write the figures as JSON
  --config FILE    start quayside with this config.yaml (e.g. PostgreSQL metadata) instead of the embedded default
  --workers N|auto worker processes of the quayside it starts (WORKER_COUNT_REGISTRY; default auto = serve's
                   default); reported as "one process" when this build has no worker processes
  --no-redis       only the run without Redis (default: both, the second with DATA_MODEL_CACHE_CONFIG and
                   BUILDLOGS_REDIS at 127.0.0.1:6379, when this build supports Redis)
  --quayside-url   benchmark an already running quayside instead of starting one (memory is sampled only
                   when --quayside-pid is given); --credentials names a user who may push to the bench namespace
`;

/** The user the bench creates in the quayside it starts; the repositories below are in its namespace. */
const BENCH_USER: Credentials = { username: 'bench', password: 'bench-password-0123456789' };
const BENCH_REPOSITORIES = ['bench/big', 'bench/small', 'bench/small-blobs'];

/** --credentials USER:PASSWORD for an external quayside. */
function parseCredentials(value: string | undefined): Credentials {
  const colon = value?.indexOf(':') ?? -1;
  if (value === undefined || colon <= 0) throw new Error('--credentials USER:PASSWORD is required with --quayside-url');
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}

/** A running server the bench did not start: nothing to stop, memory sampled through the given pid. */
function external(url: string, pid: number): RegistryServer {
  const base = new URL(url);
  const port = Number(base.port || 80);
  const proc = {
    pid,
    child: undefined as never,
    readyMatch: [url] as RegExpMatchArray,
    stdoutLines: () => [],
    stderrLines: () => [],
    waitForLine: () => Promise.reject(new Error('an external server has no captured output')),
    running: () => true,
    stop: async () => undefined,
  };
  return { kind: 'quayside', url: base.origin, hostPort: base.host, port, process: proc, stop: async () => undefined };
}

interface Target {
  /** distribution, or a quayside variant: 'quayside' (no Redis) or 'quayside+redis'. */
  name: string;
  server: RegistryServer;
  client: RegistryClient;
}

type Cells = Record<string, Cell>;

/** Runs `measure` against each registry in turn (distribution first); a failure becomes that cell's error. */
async function forBoth(targets: Target[], measure: (target: Target) => Promise<number>): Promise<Cells> {
  const cells: Cells = {};
  for (const target of targets) {
    try {
      cells[target.name] = { value: await measure(target) };
    } catch (error) {
      cells[target.name] = { error: error instanceof Error ? error.message.split('\n')[0] ?? error.message : String(error) };
    }
  }
  return cells;
}

const VARIANT_LABELS: Record<string, string> = { quayside: 'no Redis', 'quayside+redis': 'Redis' };

/** One table row per quayside variant, each against the same distribution figure. */
function rowsFor(targets: Target[], base: Omit<Row, 'distribution' | 'quayside'>, cells: Cells): Row[] {
  return targets
    .filter((target) => target.name !== 'distribution')
    .map((target) => ({
      ...base,
      label: `${base.label} [${VARIANT_LABELS[target.name] ?? target.name}]`,
      distribution: cells.distribution ?? { error: 'not run' },
      quayside: cells[target.name] ?? { error: 'not run' },
    }));
}

function command(cmd: string, args: string[]): string {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n')[0] ?? '';
}

function describeMachine(): string[] {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: string };
  const commit = command('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']) || 'unknown';
  return [
    `machine: ${availableParallelism()} CPUs (nproc), ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Linux ${release()}`,
    `quayside ${pkg.version ?? '?'} (commit ${commit}) on Node.js ${process.version}; ${distributionVersion()}; ${command('wrk', ['-v'])}`,
  ];
}

/** Pushes `blobs` with `concurrency` requests in flight; returns blobs per second. */
async function pushSmallBlobs(client: RegistryClient, repository: string, blobs: Buffer[], concurrency: number, singlePost: boolean): Promise<number> {
  const digests = blobs.map((blob) => `sha256:${createHash('sha256').update(blob).digest('hex')}`);
  let next = 0;
  const worker = async () => {
    while (next < blobs.length) {
      const i = next;
      next += 1;
      await client.pushSmall(repository, blobs[i] as Buffer, digests[i] as string, singlePost);
    }
  };
  const seconds = await timed(() => Promise.all(Array.from({ length: concurrency }, worker)));
  return blobs.length / seconds;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      config: { type: 'string' },
      'quayside-url': { type: 'string' },
      'quayside-pid': { type: 'string' },
      credentials: { type: 'string' },
      workers: { type: 'string', default: 'auto' },
      'no-redis': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const sizes = values.quick ? QUICK : FULL;
  const header = describeMachine();
  const load = loadavg()[0] ?? 0;
  header.push(`load average at start: ${load.toFixed(2)}${load > availableParallelism() / 2 ? ' (WARNING: the machine is busy; figures will be noisy)' : ''}`);
  for (const line of header) console.log(line);
  console.log(
    `mode: ${values.quick ? 'quick' : 'full'} (blob ${sizes.blobBytes / MiB} MiB, chunks ${sizes.chunkBytes / MiB} MiB, ` +
      `wrk -t${sizes.wrkThreads} -c${sizes.wrkConnections} -d${sizes.wrkSeconds}s, ${sizes.smallBlobs} x ${sizes.smallBlobBytes / 1024} KiB blobs)`,
  );

  const workers = values.workers ?? 'auto';
  if (workers !== 'auto' && !/^[1-9]\d{0,2}$/.test(workers)) throw new Error(`--workers: expected a number of processes or auto, got ${JSON.stringify(workers)}`);
  const workerBuild = await supportsWorkers();
  const workerLine = workerBuild
    ? `quayside workers: ${workers === 'auto' ? `auto (${availableParallelism()} CPUs)` : workers}`
    : `quayside workers: one process (this build has no worker processes: WORKER_COUNT_REGISTRY is not a config key${workers === 'auto' ? '' : `; --workers ${workers} ignored`})`;
  const redisBuild = await supportsRedis();
  const redisLine = values['no-redis']
    ? 'with Redis: not run (--no-redis)'
    : redisBuild
      ? 'with Redis: DATA_MODEL_CACHE_CONFIG engine redis, BUILDLOGS_REDIS, USER_EVENTS_REDIS at 127.0.0.1:6379'
      : 'with Redis: not measured: Redis is not supported by this build (DATA_MODEL_CACHE_CONFIG is not a config key)';
  header.push(workerLine, redisLine);
  console.log(workerLine);
  console.log(redisLine);

  const logs = await mkdtemp(join(tmpdir(), 'registry-bench-logs-'));
  const targets: Target[] = [];
  let failed = true;
  try {
    const distribution = await startDistribution({ outputFile: join(logs, 'distribution.log'), maxLines: 100 });
    targets.push({ name: 'distribution', server: distribution, client: new RegistryClient(distribution.url) });
    // Each quayside variant gets its own config.yaml: the given one (or none: the embedded default) plus the
    // worker count and, for the second, Quay's Redis keys.
    const baseConfig = values.config ? readFileSync(values.config, 'utf8').split('\n') : [];
    const variants: { name: string; lines: string[] }[] = [{ name: 'quayside', lines: [] }];
    if (redisBuild && !values['no-redis'] && !values['quayside-url']) variants.push({ name: 'quayside+redis', lines: redisConfigLines() });
    for (const variant of variants) {
      let quayside: RegistryServer;
      if (values['quayside-url']) {
        quayside = external(values['quayside-url'], Number(values['quayside-pid'] ?? 0));
      } else {
        const workerLines = workerBuild && workers !== 'auto' ? [`WORKER_COUNT_REGISTRY: ${workers}`] : [];
        const lines = [...baseConfig, ...workerLines, ...variant.lines];
        // No line at all: the embedded default, as `quayside serve` runs without --config (an empty file is refused).
        let config: string | undefined;
        if (lines.some((line) => line.trim() !== '')) {
          config = join(logs, `${variant.name}.config.yaml`);
          await writeFile(config, [...lines, ''].join('\n'));
        }
        quayside = await startQuayside({ outputFile: join(logs, `${variant.name}.log`), maxLines: 100, config, user: BENCH_USER });
      }
      const quaysideClient = new RegistryClient(quayside.url);
      // Quayside has token auth (distribution runs without): one token for every repository the run uses, as a
      // docker client would hold; each request then pays for the token check, as in production.
      const credentials = quayside.credentials ?? parseCredentials(values.credentials);
      const token = await registryToken(quayside.url, BENCH_REPOSITORIES.map((name) => `repository:${name}:pull,push`), credentials);
      quaysideClient.defaultHeaders = { authorization: `Bearer ${token}` };
      targets.push({ name: variant.name, server: quayside, client: quaysideClient });
      console.log(`${variant.name} at ${quayside.url} (pid ${quayside.process.pid})`);
    }
    console.log(`distribution at ${distribution.url} (pid ${distribution.process.pid}); logs in ${logs}`);

    const rows: Row[] = [];
    const sizeMb = sizes.blobBytes / MB;
    const blobs = new Map<string, { mono: GeneratedBlob; chunked: GeneratedBlob }>();
    const memory = new Map<string, MemoryPeaks>();

    // 1. Big blob pushes, with memory sampled over both pushes. Digests are computed before the clock starts.
    console.log('1/5 pushing big blobs ...');
    for (const target of targets) {
      const pair = { mono: new GeneratedBlob(sizes.blobBytes), chunked: new GeneratedBlob(sizes.blobBytes) };
      pair.mono.digest();
      pair.chunked.digest();
      blobs.set(target.name, pair);
    }
    const samplers = new Map<string, ReturnType<typeof sampleMemory>>();
    const restingRss = new Map<string, number>();
    for (const target of targets) {
      if (target.server.process.pid > 0) restingRss.set(target.name, sampleMemory(target.server.process.pid).stop().peakTotalRssMb);
    }
    const mono = await forBoth(targets, async (target) => {
      if (target.server.process.pid > 0) samplers.set(target.name, sampleMemory(target.server.process.pid));
      const blob = blobs.get(target.name)?.mono as GeneratedBlob;
      return sizeMb / (await timed(() => target.client.pushMonolithic('bench/big', blob)));
    });
    const chunked = await forBoth(targets, async (target) => {
      const blob = blobs.get(target.name)?.chunked as GeneratedBlob;
      try {
        return sizeMb / (await timed(() => target.client.pushChunked('bench/big', blob, sizes.chunkBytes)));
      } finally {
        memory.set(target.name, samplers.get(target.name)?.stop() ?? { peakRssMb: 0, hwmMb: 0, peakTotalRssMb: 0, processes: 0 });
      }
    });
    rows.push(...rowsFor(targets, { label: `push ${sizes.blobBytes / MiB} MiB blob, monolithic`, unit: 'MB/s', better: 'higher', target: { minRatio: 1.5 } }, mono));
    rows.push(
      ...rowsFor(targets, { label: `push ${sizes.blobBytes / MiB} MiB blob, ${sizes.chunkBytes / MiB} MiB chunks`, unit: 'MB/s', better: 'higher', target: { minRatio: 1.5 } }, chunked),
    );

    // 2. Pulls of the monolithic blob: one stream, then N at once; one untimed pull checks the bytes.
    console.log('2/5 pulling ...');
    const pullOne = await forBoth(targets, async (target) => {
      const blob = blobs.get(target.name)?.mono as GeneratedBlob;
      const hash = createHash('sha256');
      const received = await target.client.pull('bench/big', blob.digest(), hash);
      if (received !== blob.size || `sha256:${hash.digest('hex')}` !== blob.digest()) throw new Error('pulled bytes differ from the pushed blob');
      return sizeMb / (await timed(() => target.client.pull('bench/big', blob.digest())));
    });
    // The server's CPU seconds per GiB of the N-stream pull: wall time on a loaded machine says as much about the
    // other processes as about the server; the CPU a server spends on each byte it sends does not.
    const pullCpu: Cells = {};
    const pullMany = await forBoth(targets, async (target) => {
      const blob = blobs.get(target.name)?.mono as GeneratedBlob;
      const pid = target.server.process.pid;
      const cpuBefore = pid > 0 ? cpuSecondsOfTree(pid) : 0;
      const seconds = await timed(async () => {
        const counts = await Promise.all(Array.from({ length: sizes.pullStreams }, () => target.client.pull('bench/big', blob.digest())));
        if (counts.some((count) => count !== blob.size)) throw new Error(`a stream received a short body: ${counts.join(', ')}`);
      });
      if (pid > 0) pullCpu[target.name] = { value: (cpuSecondsOfTree(pid) - cpuBefore) / ((blob.size * sizes.pullStreams) / 2 ** 30) };
      return (sizeMb * sizes.pullStreams) / seconds;
    });
    rows.push(...rowsFor(targets, { label: 'pull blob, 1 stream', unit: 'MB/s', better: 'higher', target: { minRatio: 1.0 } }, pullOne));
    rows.push(...rowsFor(targets, { label: `pull blob, ${sizes.pullStreams} streams (aggregate)`, unit: 'MB/s', better: 'higher', target: { minRatio: 1.0 } }, pullMany));
    // Only when every server's pid is known (not for an instance given by --quayside-url without --quayside-pid).
    if (targets.every((target) => pullCpu[target.name] !== undefined)) {
      rows.push(...rowsFor(targets, { label: `server CPU per GiB pulled, ${sizes.pullStreams} streams`, unit: 's/GiB', better: 'lower' }, pullCpu));
    }

    // 3. Request rates with wrk on small metadata requests.
    console.log('3/5 wrk (manifest GET, blob HEAD, tags/list, token requests) ...');
    const seeded = new Map<string, string>();
    for (const target of targets) seeded.set(target.name, (await seedSmallImage(target.client, 'bench/small')).layerDigest);
    const endpoints: { label: string; method: 'GET' | 'HEAD'; path: (target: Target) => string; headers?: Record<string, string> }[] = [
      {
        label: 'GET manifest',
        method: 'GET',
        path: () => '/v2/bench/small/manifests/v1',
        headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
      },
      { label: 'HEAD blob (raw-socket loader)', method: 'HEAD', path: (target) => `/v2/bench/small/blobs/${seeded.get(target.name) ?? ''}` },
      { label: 'GET tags/list', method: 'GET', path: () => '/v2/bench/small/tags/list' },
    ];
    for (const endpoint of endpoints) {
      const p99: Cells = {};
      const rps = await forBoth(targets, async (target) => {
        const url = `${target.server.url}${endpoint.path(target)}`;
        const load = { headers: { ...target.client.defaultHeaders, ...endpoint.headers }, threads: sizes.wrkThreads, connections: sizes.wrkConnections, seconds: sizes.wrkSeconds };
        // wrk cannot do HEAD (it waits for a body that never comes); the raw-socket loader stands in.
        const result: WrkResult = endpoint.method === 'HEAD' ? await headLoad(url, load) : await runWrk(url, load);
        if (result.requests === 0) throw new Error('no request completed');
        // A figure made of error responses or broken sockets would flatter whoever fails fastest.
        if (result.non2xx > 0 || result.socketErrors > 0) {
          throw new Error(`${result.non2xx} non-2xx responses and ${result.socketErrors} socket errors out of ${result.requests}`);
        }
        p99[target.name] = { value: result.p99Ms };
        return result.requestsPerSecond;
      });
      rows.push(...rowsFor(targets, { label: endpoint.method === 'HEAD' ? endpoint.label : `${endpoint.label} (wrk)`, unit: 'req/s', better: 'higher', target: { minRatio: 5 } }, rps));
      rows.push(...rowsFor(targets, { label: `${endpoint.label} p99 latency`, unit: 'ms', better: 'lower' }, p99));
    }

    // Docker-style logins: quayside's /v2/auth with Basic credentials (a bcrypt check and a signed token per
    // request) against distribution with htpasswd auth (a bcrypt check per request; its token auth would need an
    // external token server). See bench/README.md.
    const htpasswd = await startHtpasswdDistribution(join(logs, 'distribution-htpasswd.log'));
    try {
      const loginP99: Cells = {};
      const logins = await forBoth(targets, async (target) => {
        const load = { threads: sizes.wrkThreads, connections: sizes.wrkConnections, seconds: sizes.wrkSeconds };
        const result =
          target.name === 'distribution'
            ? await loginLoad(`${htpasswd.url}/v2/`, htpasswd.credentials, load)
            : await loginLoad(
                `${target.server.url}/v2/auth?service=${encodeURIComponent(target.server.hostPort)}&scope=repository:bench/small:pull`,
                target.server.credentials ?? parseCredentials(values.credentials),
                load,
              );
        loginP99[target.name] = { value: result.p99Ms };
        return result.requestsPerSecond;
      });
      const note = 'distribution: htpasswd auth, GET /v2/ with Basic; quayside: GET /v2/auth?service=&scope= with Basic (token issued)';
      rows.push(...rowsFor(targets, { label: 'token request, Basic credentials (wrk)', unit: 'req/s', better: 'higher', target: { minRatio: 1.0 }, note }, logins));
      rows.push(...rowsFor(targets, { label: 'token request p99 latency', unit: 'ms', better: 'lower' }, loginP99));
    } finally {
      await htpasswd.stop();
    }

    // 4. Many small blobs, one by one and 16 at a time, each registry with its quickest monolithic upload.
    console.log('4/5 small blobs ...');
    const modes = new Map<string, boolean>();
    for (const target of targets) modes.set(target.name, await target.client.supportsSinglePostUpload('bench/small-blobs'));
    const fresh = () => Array.from({ length: sizes.smallBlobs }, () => randomBytes(sizes.smallBlobBytes));
    const modeNote = targets.map((target) => `${target.name}: ${modes.get(target.name) ? 'one POST ?digest=' : 'POST + PUT ?digest= (no single-POST upload)'}`).join('; ');
    const sequential = await forBoth(targets, (target) => pushSmallBlobs(target.client, 'bench/small-blobs', fresh(), 1, modes.get(target.name) ?? false));
    const parallel = await forBoth(targets, (target) =>
      pushSmallBlobs(target.client, 'bench/small-blobs', fresh(), sizes.smallConcurrency, modes.get(target.name) ?? false),
    );
    rows.push(...rowsFor(targets, { label: `push ${sizes.smallBlobs} x 4 KiB blobs, one by one`, unit: 'blobs/s', better: 'higher', target: { minRatio: 1.5 }, note: modeNote }, sequential));
    rows.push(...rowsFor(targets, { label: `push ${sizes.smallBlobs} x 4 KiB blobs, ${sizes.smallConcurrency} at a time`, unit: 'blobs/s', better: 'higher', target: { minRatio: 1.5 } }, parallel));

    // 5. Memory during the big pushes.
    console.log('5/5 memory');
    const mem = (name: string, field: 'peakRssMb' | 'hwmMb' | 'peakTotalRssMb'): Cell => {
      const sample = memory.get(name);
      return sample && sample[field] > 0 ? { value: sample[field] } : { error: 'not sampled' };
    };
    const resting = (name: string): Cell => {
      const value = restingRss.get(name);
      return value ? { value } : { error: 'not sampled' };
    };
    const byName = (cell: (name: string) => Cell): Cells => Object.fromEntries(targets.map((target) => [target.name, cell(target.name)]));
    rows.push(...rowsFor(targets, { label: 'RSS at rest before the pushes, all processes', unit: 'MB', better: 'lower' }, byName(resting)));
    // Per process: the target is about one process streaming a blob, whatever the number of workers.
    rows.push(...rowsFor(targets, { label: 'peak RSS during big pushes, largest process (50 ms samples)', unit: 'MB', better: 'lower', target: { maxQuayside: 150 } }, byName((name) => mem(name, 'peakRssMb'))));
    rows.push(...rowsFor(targets, { label: 'VmHWM after big pushes, largest process (lifetime peak)', unit: 'MB', better: 'lower', target: { maxQuayside: 150 } }, byName((name) => mem(name, 'hwmMb'))));
    rows.push(...rowsFor(targets, { label: 'peak RSS during big pushes, all processes', unit: 'MB', better: 'lower', note: 'quayside with worker processes: the primary and every worker together' }, byName((name) => mem(name, 'peakTotalRssMb'))));

    console.log('');
    console.log(renderTable(rows));
    if (values.json) {
      await writeFile(values.json, `${JSON.stringify({ header, mode: values.quick ? 'quick' : 'full', sizes, rows: rows.map((row) => ({ ...row, verdict: verdict(row) })) }, null, 2)}\n`);
      console.log(`results written to ${values.json}`);
    }
    failed = rows.some((row) => 'error' in row.distribution || 'error' in row.quayside);
    return failed ? 1 : 0;
  } finally {
    for (const target of targets) target.client.close();
    await Promise.all(targets.map((target) => target.server.stop()));
    // The servers' logs are the first place to look when a figure is an error: keep them then.
    if (failed) console.log(`server logs kept in ${logs}`);
    else await rm(logs, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  },
);
