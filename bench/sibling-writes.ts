// The latency of a write with worker processes (a manifest PUT that moves a tag, a tag DELETE), one request at a
// time on one kept-alive connection, for one or more quayside builds interleaved round after round, so that an
// A/B of two builds (before and after the wait for the sibling workers' acknowledgement of the cache
// invalidation) shares the machine's state. See bench/README.md ("Writes with worker processes").
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startQuayside, type Credentials, type RegistryServer } from '../test/helpers/processes.js';
import { registryToken } from '../test/helpers/registry-auth.js';

const USAGE = `usage: node dist/bench/sibling-writes.js [--build DIR]... [--workers N] [--writes N] [--rounds N]

  --build DIR   a quayside checkout whose build to run (repeat for an A/B; default: this checkout)
  --workers N   worker processes of each server (default 2)
  --writes N    PUT+DELETE pairs per round and build (default 300)
  --rounds N    rounds; each runs every build in turn (default 5)
`;

const BENCH_USER: Credentials = { username: 'bench', password: 'bench-password-0123456789' };
const REPOSITORY = 'bench/writes';
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

interface Target {
  label: string;
  server: RegistryServer;
  agent: Agent;
  headers: Record<string, string>;
  manifests: Buffer[];
  put: number[];
  del: number[];
}

const sha = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** One request on the target's kept-alive connection; its status and the milliseconds until the answer ended. */
function timed(target: Target, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; ms: number }> {
  return new Promise((done, fail) => {
    const started = performance.now();
    const req = httpRequest(`${target.server.url}${path}`, { method, headers: { ...target.headers, ...headers }, agent: target.agent }, (res) => {
      res.resume();
      res.on('end', () => done({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(body);
  });
}

function expect(answer: { status: number; ms: number }, status: number, what: string): number {
  if (answer.status !== status) throw new Error(`${what}: status ${answer.status}, expected ${status}`);
  return answer.ms;
}

/** Two small images whose manifests the writes alternate (each PUT moves or recreates the tag). */
async function seed(target: Target): Promise<void> {
  for (const marker of ['a', 'b']) {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', marker }));
    expect(await timed(target, 'POST', `/v2/${REPOSITORY}/blobs/uploads/?digest=${sha(config)}`, { 'content-type': 'application/octet-stream' }, config), 201, 'config blob');
    target.manifests.push(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [] })));
  }
}

async function round(target: Target, writes: number): Promise<void> {
  for (let i = 0; i < writes; i++) {
    const manifest = target.manifests[i % 2]!;
    target.put.push(expect(await timed(target, 'PUT', `/v2/${REPOSITORY}/manifests/latest`, { 'content-type': MANIFEST_TYPE }, manifest), 201, 'manifest PUT'));
    target.del.push(expect(await timed(target, 'DELETE', `/v2/${REPOSITORY}/manifests/latest`, {}), 202, 'tag DELETE'));
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      build: { type: 'string', multiple: true },
      workers: { type: 'string', default: '2' },
      writes: { type: 'string', default: '300' },
      rounds: { type: 'string', default: '5' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [workers, writes, rounds] = [Number(values.workers), Number(values.writes), Number(values.rounds)];
  if (![workers, writes, rounds].every((n) => Number.isInteger(n) && n >= 1)) throw new Error('--workers, --writes and --rounds take positive whole numbers');
  const builds = (values.build ?? ['']).map((dir) => (dir === '' ? undefined : resolve(dir)));
  const logs = await mkdtemp(join(tmpdir(), 'sibling-writes-'));
  const targets: Target[] = [];
  const interrupted = () => {
    Promise.all(targets.map((target) => target.server.stop())).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    for (const [index, dir] of builds.entries()) {
      const cli = dir === undefined ? undefined : join(dir, 'bin', 'quayside.js');
      const server = await startQuayside({ outputFile: join(logs, `q${index}.log`), maxLines: 100, user: BENCH_USER, cli, serveArgs: ['--workers', String(workers)], env: { QUAYSIDE_LOG_LEVEL: 'warn' } });
      const token = await registryToken(server.url, [`repository:${REPOSITORY}:pull,push,delete`], BENCH_USER);
      const target: Target = { label: dir ?? 'this build', server, agent: new Agent({ keepAlive: true, maxSockets: 1 }), headers: { authorization: `Bearer ${token}` }, manifests: [], put: [], del: [] };
      targets.push(target);
      await seed(target);
      // Warm-up: the JIT, the database's statement cache, the connection.
      await round(target, 50);
      target.put.length = 0;
      target.del.length = 0;
    }
    for (let r = 1; r <= rounds; r++) {
      console.log(`round ${r}/${rounds}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
      for (const target of targets) await round(target, writes);
    }
    console.log(`\n${rounds} x ${writes} writes of each kind per build, --workers ${workers}, one at a time (load average now ${loadavg()[0]?.toFixed(2)}):`);
    const describe = (ms: number[]) => `median ${quantile(ms, 0.5).toFixed(3)} ms, p90 ${quantile(ms, 0.9).toFixed(3)} ms, p99 ${quantile(ms, 0.99).toFixed(3)} ms`;
    for (const target of targets) {
      console.log(`  ${target.label}\n    manifest PUT: ${describe(target.put)}\n    tag DELETE:   ${describe(target.del)}`);
    }
    return 0;
  } finally {
    for (const target of targets) target.agent.destroy();
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
