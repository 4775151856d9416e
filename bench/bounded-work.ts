// Bounded work per request: how long a bystander's manifest GET takes while other clients push manifests
// that name thousands of unknown (or known) digests. See bench/README.md ("Bounded work").
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startQuayside, type Credentials } from '../test/helpers/processes.js';
import { registryToken } from '../test/helpers/registry-auth.js';
import { RegistryClient } from './registry-client.js';

const USAGE = `usage: node dist/bench/bounded-work.js [--seconds N] [--attackers N] [--config FILE] [--quick]

  --seconds N    how long each scenario runs (default 10; --quick: 3)
  --attackers N  clients pushing the heavy manifest at once, each one after the other (default 3)
  --config FILE  start quayside with this config.yaml (e.g. PostgreSQL metadata) instead of the embedded default
`;

const BENCH_USER: Credentials = { username: 'bench', password: 'bench-password-0123456789' };
const BYSTANDER = 'bench/bystander';
const ATTACK = 'bench/attack';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const P99_TARGET_MS = 100;

const sha256 = (bytes: Buffer | string): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
/** A digest nobody pushed, distinct per n and per run. */
const unknownDigest = (run: string, n: number): string => sha256(`${run} unknown ${n}`);

function image(config: string, layers: string[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config, size: 2 },
      layers: layers.map((digest) => ({ mediaType: OCI_LAYER, digest, size: 1 })),
    }),
  );
}

function index(children: string[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: children.map((digest) => ({ mediaType: OCI_MANIFEST, digest, size: 500, platform: { architecture: 'amd64', os: 'linux' } })),
    }),
  );
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function pushBlob(client: RegistryClient, repository: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  await client.expect(201, 'POST', `/v2/${repository}/blobs/uploads/?digest=${digest}`, {
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
    body: bytes,
  });
  return digest;
}

interface Scenario {
  name: string;
  /** The manifest the attackers push, its content type, and the OCI error code it must be refused with. */
  manifest?: { bytes: Buffer; contentType: string; expectCode: string };
}

interface Outcome {
  scenario: string;
  gets: number;
  p50: number;
  p99: number;
  max: number;
  puts: number;
  putP50: number;
  putMax: number;
}

const elapsedMs = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

/** The bystander GETs its manifest one after the other while `attackers` clients push the scenario's manifest. */
async function runScenario(
  url: string,
  token: string,
  scenario: Scenario,
  seconds: number,
  attackers: number,
): Promise<Outcome> {
  const bystander = new RegistryClient(url, 1);
  bystander.defaultHeaders = { authorization: `Bearer ${token}`, accept: OCI_MANIFEST };
  const deadline = Date.now() + seconds * 1000;
  const getLatencies: number[] = [];
  const putLatencies: number[] = [];
  const attack = async (): Promise<void> => {
    const manifest = scenario.manifest;
    if (manifest === undefined) return;
    const client = new RegistryClient(url, 1);
    client.defaultHeaders = { authorization: `Bearer ${token}` };
    try {
      while (Date.now() < deadline) {
        const start = process.hrtime.bigint();
        const res = await client.send('PUT', `/v2/${ATTACK}/manifests/heavy`, {
          headers: { 'content-type': manifest.contentType, 'content-length': String(manifest.bytes.length) },
          body: manifest.bytes,
        });
        putLatencies.push(elapsedMs(start));
        const code = (JSON.parse(res.body.toString()) as { errors?: Array<{ code: string }> }).errors?.[0]?.code;
        if (res.status !== 400 || code !== manifest.expectCode) {
          throw new Error(`${scenario.name}: the heavy manifest was answered ${res.status} ${code ?? ''}, expected 400 ${manifest.expectCode}`);
        }
      }
    } finally {
      client.close();
    }
  };
  const observe = async (): Promise<void> => {
    try {
      while (Date.now() < deadline) {
        const start = process.hrtime.bigint();
        await bystander.expect(200, 'GET', `/v2/${BYSTANDER}/manifests/v1`);
        getLatencies.push(elapsedMs(start));
      }
    } finally {
      bystander.close();
    }
  };
  await Promise.all([observe(), ...Array.from({ length: attackers }, attack)]);
  const gets = [...getLatencies].sort((a, b) => a - b);
  const puts = [...putLatencies].sort((a, b) => a - b);
  return {
    scenario: scenario.name,
    gets: gets.length,
    p50: percentile(gets, 50),
    p99: percentile(gets, 99),
    max: gets.at(-1) ?? Number.NaN,
    puts: puts.length,
    putP50: percentile(puts, 50),
    putMax: puts.at(-1) ?? Number.NaN,
  };
}

function formatMs(value: number): string {
  if (Number.isNaN(value)) return '-';
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string' },
      attackers: { type: 'string', default: '3' },
      config: { type: 'string' },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const seconds = Number(values.seconds ?? (values.quick ? 3 : 10));
  const attackers = Number(values.attackers);
  const load = loadavg()[0] ?? 0;
  console.log(`nproc ${availableParallelism()}, node ${process.version}, load average at start ${load.toFixed(2)}${load > availableParallelism() / 2 ? ' (WARNING: busy machine, figures will be noisy)' : ''}`);
  console.log(`${seconds} s per scenario, ${attackers} attackers, metadata: ${values.config ?? 'embedded SQLite'}`);

  const logs = await mkdtemp(join(tmpdir(), 'bounded-work-logs-'));
  const server = await startQuayside({ outputFile: join(logs, 'quayside.log'), maxLines: 100, config: values.config, user: BENCH_USER });
  try {
    const token = await registryToken(server.url, [`repository:${BYSTANDER}:pull,push`, `repository:${ATTACK}:pull,push`], BENCH_USER);
    const client = new RegistryClient(server.url, 8);
    client.defaultHeaders = { authorization: `Bearer ${token}` };

    // The bystander's small image; the attack repository holds 1000 tiny blobs for the "known" scenario.
    const run = String(Date.now());
    const config = await pushBlob(client, BYSTANDER, Buffer.from(`{"run":"${run}"}`));
    const layer = await pushBlob(client, BYSTANDER, Buffer.from(`layer ${run}`));
    const small = image(config, [layer]);
    await client.expect(201, 'PUT', `/v2/${BYSTANDER}/manifests/v1`, { headers: { 'content-type': OCI_MANIFEST }, body: small });
    console.log('seeding 1000 blobs in the attack repository ...');
    const known: string[] = [];
    for (let start = 0; start < 1000; start += 16) {
      const batch = Array.from({ length: Math.min(16, 1000 - start) }, (_, i) => pushBlob(client, ATTACK, Buffer.from(`known ${run} ${start + i}`)));
      known.push(...(await Promise.all(batch)));
    }
    client.close();

    const unknown = (count: number, offset = 0) => Array.from({ length: count }, (_, i) => unknownDigest(run, offset + i));
    const scenarios: Scenario[] = [
      { name: 'bystander alone' },
      { name: '25,000 unknown layers (over the cap)', manifest: { bytes: image(unknownDigest(run, -1), unknown(25_000)), contentType: OCI_MANIFEST, expectCode: 'MANIFEST_INVALID' } },
      { name: '20,000 unknown children (over the cap)', manifest: { bytes: index(unknown(20_000)), contentType: OCI_INDEX, expectCode: 'MANIFEST_INVALID' } },
      { name: '1,000 unknown layers (at the cap)', manifest: { bytes: image(unknownDigest(run, -1), unknown(1000)), contentType: OCI_MANIFEST, expectCode: 'MANIFEST_BLOB_UNKNOWN' } },
      {
        name: '999 known layers + 1 unknown (at the cap)',
        manifest: { bytes: image(known[0] as string, [...known.slice(1), unknownDigest(run, -2)]), contentType: OCI_MANIFEST, expectCode: 'MANIFEST_BLOB_UNKNOWN' },
      },
      { name: '10,000 unknown children (at the cap)', manifest: { bytes: index(unknown(10_000)), contentType: OCI_INDEX, expectCode: 'MANIFEST_BLOB_UNKNOWN' } },
    ];
    const outcomes: Outcome[] = [];
    for (const scenario of scenarios) {
      console.log(`running: ${scenario.name} ...`);
      outcomes.push(await runScenario(server.url, token, scenario, seconds, scenario.manifest ? attackers : 0));
    }

    console.log('');
    console.log('| scenario | bystander GETs | GET p50 ms | GET p99 ms | GET max ms | heavy PUTs | PUT p50 ms | PUT max ms |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const o of outcomes) {
      console.log(`| ${o.scenario} | ${o.gets} | ${formatMs(o.p50)} | ${formatMs(o.p99)} | ${formatMs(o.max)} | ${o.puts || '-'} | ${formatMs(o.putP50)} | ${formatMs(o.putMax)} |`);
    }
    const worst = Math.max(...outcomes.map((o) => o.p99));
    console.log('');
    console.log(`worst bystander p99: ${formatMs(worst)} ms (target < ${P99_TARGET_MS} ms): ${worst < P99_TARGET_MS ? 'PASS' : 'MISS'}`);
    console.log(`server log: ${join(logs, 'quayside.log')}`);
    return worst < P99_TARGET_MS ? 0 : 1;
  } finally {
    await server.stop();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`bounded-work: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
