// The small-request figures of the registry benchmark (manifest GET with wrk, blob HEAD with the raw-socket
// loader) for one or more quayside builds and CNCF distribution, interleaved round after round in one run, so
// that an A/B of two builds shares the machine's state. See bench/README.md ("Small requests, A/B").
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startDistribution, startQuayside, type Credentials, type RegistryServer } from '../test/helpers/processes.js';
import { registryToken } from '../test/helpers/registry-auth.js';
import { headLoad } from './registry-head-load.js';
import { RegistryClient } from './registry-client.js';
import { redisConfigLines } from './registry-variants.js';
import { runWrk, type WrkResult } from './registry-wrk.js';
import { seedSmallImage } from './seed-small-image.js';

const USAGE = `usage: node dist/bench/small-requests.js [--build DIR]... [--redis] [--seconds N] [--rounds N]

  --build DIR   a quayside checkout whose build to run (repeat for an A/B; default: this checkout)
  --redis       run each build with DATA_MODEL_CACHE_CONFIG engine redis at 127.0.0.1:6379 as well
  --seconds N   length of each load (default 10)
  --rounds N    rounds; each runs every figure on every server in turn (default 3)
`;

const BENCH_USER: Credentials = { username: 'bench', password: 'bench-password-0123456789' };
const LOAD = { threads: 2, connections: 64 };

interface Target {
  label: string;
  server: RegistryServer;
  client: RegistryClient;
  layer: string;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

function checked(result: WrkResult): WrkResult {
  if (result.requests === 0) throw new Error('no request completed');
  if (result.non2xx > 0 || result.socketErrors > 0) throw new Error(`${result.non2xx} non-2xx, ${result.socketErrors} socket errors`);
  return result;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      build: { type: 'string', multiple: true },
      redis: { type: 'boolean', default: false },
      seconds: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '3' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  if (!(seconds > 0) || !Number.isInteger(rounds) || rounds < 1) throw new Error('--seconds and --rounds take positive numbers');
  const builds = (values.build ?? ['']).map((dir) => (dir === '' ? undefined : resolve(dir)));
  const logs = await mkdtemp(join(tmpdir(), 'small-requests-'));
  const targets: Target[] = [];
  // Ctrl-C stops the servers this run started, not just the run.
  const interrupted = () => {
    Promise.all(targets.map((target) => target.server.stop())).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const distribution = await startDistribution({ outputFile: join(logs, 'distribution.log'), maxLines: 100 });
    const plain = new RegistryClient(distribution.url);
    targets.push({ label: 'distribution', server: distribution, client: plain, layer: (await seedSmallImage(plain, 'bench/small')).layerDigest });
    for (const [index, dir] of builds.entries()) {
      for (const redis of values.redis ? [false, true] : [false]) {
        const label = `${dir ?? 'this build'}${redis ? ' [Redis]' : ''}`;
        let config: string | undefined;
        if (redis) {
          config = join(logs, `q${index}-redis.yaml`);
          await writeFile(config, `${redisConfigLines().join('\n')}\n`);
        }
        const cli = dir === undefined ? undefined : join(dir, 'bin', 'quayside.js');
        const server = await startQuayside({ outputFile: join(logs, `q${index}${redis ? '-redis' : ''}.log`), maxLines: 100, config, user: BENCH_USER, cli });
        const client = new RegistryClient(server.url);
        client.defaultHeaders = { authorization: `Bearer ${await registryToken(server.url, ['repository:bench/small:pull,push'], BENCH_USER)}` };
        targets.push({ label, server, client, layer: (await seedSmallImage(client, 'bench/small')).layerDigest });
      }
    }
    const results = new Map<string, { get: number[]; head: number[]; getP99: number[]; headP99: number[] }>();
    for (let round = 1; round <= rounds; round += 1) {
      console.log(`round ${round}/${rounds}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
      for (const target of targets) {
        const headers = { ...target.client.defaultHeaders };
        const get = checked(
          await runWrk(`${target.server.url}/v2/bench/small/manifests/v1`, { ...LOAD, seconds, headers: { ...headers, Accept: 'application/vnd.oci.image.manifest.v1+json' } }),
        );
        const head = checked(await headLoad(`${target.server.url}/v2/bench/small/blobs/${target.layer}`, { ...LOAD, seconds, headers }));
        const entry = results.get(target.label) ?? { get: [], head: [], getP99: [], headP99: [] };
        entry.get.push(get.requestsPerSecond);
        entry.head.push(head.requestsPerSecond);
        entry.getP99.push(get.p99Ms);
        entry.headP99.push(head.p99Ms);
        results.set(target.label, entry);
        console.log(`  ${target.label}: GET manifest ${get.requestsPerSecond.toFixed(0)} req/s (p99 ${get.p99Ms.toFixed(1)} ms), HEAD blob ${head.requestsPerSecond.toFixed(0)} req/s (p99 ${head.p99Ms.toFixed(1)} ms)`);
      }
    }
    const base = results.get('distribution');
    console.log(`\nmedians of ${rounds} rounds of ${seconds} s (load average now ${loadavg()[0]?.toFixed(2)}):`);
    for (const [label, entry] of results) {
      const ratio = (mine: number[], theirs: number[] | undefined) => (theirs === undefined ? '' : ` (${(median(mine) / median(theirs)).toFixed(2)}x)`);
      console.log(
        `  ${label}: GET manifest ${median(entry.get).toFixed(0)}${ratio(entry.get, base?.get)} p99 ${median(entry.getP99).toFixed(1)} ms; ` +
          `HEAD blob ${median(entry.head).toFixed(0)}${ratio(entry.head, base?.head)} p99 ${median(entry.headP99).toFixed(1)} ms`,
      );
    }
    return 0;
  } finally {
    for (const target of targets) target.client.close();
    await Promise.all(targets.map((target) => target.server.stop()));
    await rm(logs, { recursive: true, force: true });
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
