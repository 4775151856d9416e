// TLS benchmark (issue 10): manifest GETs and a 1 GiB blob pull over TLS through quayside's PROXY port, side
// by side with the same over its plain HTTP port in one run, and against CNCF distribution 2.8 terminating TLS
// itself. Prints the TLS cost against its targets and the ratio to distribution. See bench/README.md ("TLS").
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { distributionVersion, REPO_ROOT, type Credentials } from '../test/helpers/processes.js';
import { basicAuth } from '../test/helpers/registry-auth.js';
import { GeneratedBlob } from './registry-client.js';
import { runWrk } from './registry-wrk.js';
import { makeCertificates } from './tls-certs.js';
import { EndpointClient } from './tls-client.js';
import type { Endpoint } from './tls-connect.js';
import { getLoad, newConnectionLoad, type LoadResult } from './tls-load.js';
import { measureLoads, measurePulls, message, TARGETS, type BenchSetup, type PullClient, type Target } from './tls-measure.js';
import { measured, median, renderTlsTable, tlsCost, verdictOf, type Measured, type TlsRow } from './tls-report.js';
import { startDistributionTls, startQuaysideEdge } from './tls-servers.js';

const MiB = 1024 * 1024;
const MB = 1_000_000;

const USAGE = `usage: node dist/bench/tls.js [--quick] [--runs N] [--seconds S] [--connections C] [--no-wrk] [--json FILE]

  --quick          64 MiB blob and 3 s load runs (a smoke run)
  --runs N         repetitions of every timed figure, interleaved; the median is reported (default 3)
  --seconds S      length of each manifest GET load run (default 10)
  --connections C  keep-alive connections of the GET load (default 64)
  --no-wrk         skip the wrk cross-check (HTTPS port, no PROXY header)
  --json FILE      also write the figures as JSON
  env TLS_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" passes node flags to the quayside it starts
`;

const USER: Credentials = { username: 'bench', password: 'bench-password-0123456789' };
const REPOSITORY = 'bench/tls';
/** Clients connecting at once in the new-connection-per-request load. */
const HANDSHAKE_CONCURRENCY = 8;
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';


function firstLine(cmd: string, args: string[]): string {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n')[0] ?? '';
}

/** The cipher's own rate on this machine: a floor for what encrypting (and decrypting) 1 GiB costs. */
function aesGcmSpeed(): string {
  const result = spawnSync('openssl', ['speed', '-evp', 'aes-128-gcm', '-bytes', '16384', '-seconds', '1'], { encoding: 'utf8' });
  const match = /^AES-128-GCM\s+([\d.]+)k/m.exec(result.stdout ?? '');
  return match ? `${Math.round(Number(match[1]) / 1000).toLocaleString('en-US')} MB/s` : 'not measured';
}

/**
 * A registry token for the bench repository, as docker would get one: the service is SERVER_HOSTNAME (the
 * host without a port, which test/helpers/registry-auth.ts's helper does not send).
 */
async function quaysideToken(httpPort: number): Promise<string> {
  const url = new URL(`http://127.0.0.1:${httpPort}/v2/auth`);
  url.searchParams.set('service', '127.0.0.1');
  url.searchParams.set('scope', `repository:${REPOSITORY}:pull,push`);
  const response = await fetch(url, { headers: { authorization: basicAuth(USER) } });
  const body = await response.text();
  const token = response.status === 200 ? (JSON.parse(body) as { token?: unknown }).token : undefined;
  if (typeof token !== 'string') throw new Error(`token request failed: ${response.status} ${body.slice(0, 300)}`);
  return token;
}

/** A small image: one 4 KiB layer, its config, and an OCI manifest tagged v1. */
async function pushSmallImage(client: EndpointClient): Promise<void> {
  const layer = randomBytes(4096);
  const digest = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digest(layer)] } }));
  for (const blob of [layer, config]) {
    const started = await client.expect(202, 'POST', `/v2/${REPOSITORY}/blobs/uploads/`, { headers: { 'content-length': '0' } });
    const upload = new URL(String(started.headers.location), 'http://placeholder');
    upload.searchParams.set('digest', digest(blob));
    await client.expect(201, 'PUT', `${upload.pathname}${upload.search}`, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) }, body: blob });
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digest(layer), size: layer.length }],
    }),
  );
  await client.putManifest(REPOSITORY, 'v1', MANIFEST_TYPE, manifest);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      seconds: { type: 'string' },
      connections: { type: 'string' },
      'no-wrk': { type: 'boolean', default: false },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const blobBytes = values.quick ? 64 * MiB : 1024 * MiB;
  const runs = Number(values.runs ?? 3);
  const seconds = Number(values.seconds ?? (values.quick ? 3 : 10));
  const connections = Number(values.connections ?? 64);
  if (![runs, seconds, connections].every((n) => Number.isInteger(n) && n > 0)) throw new Error('--runs, --seconds and --connections take positive integers');

  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: string };
  const load = loadavg()[0] ?? 0;
  const header = [
    `machine: ${availableParallelism()} CPUs (nproc), ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Linux ${release()}`,
    `quayside ${pkg.version ?? '?'} (commit ${firstLine('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']) || 'unknown'}) on Node.js ${process.version} (OpenSSL ${process.versions.openssl}); ${distributionVersion()}`,
    `load average at start: ${load.toFixed(2)}${load > availableParallelism() / 2 ? ' (WARNING: the machine is busy; figures will be noisy)' : ''}`,
    `mode: ${values.quick ? 'quick' : 'full'} (blob ${blobBytes / MiB} MiB, ${runs} runs of each figure interleaved, GET load ${connections} keep-alive connections x ${seconds} s)`,
  ];
  header.push(`AES-128-GCM on one core (openssl speed, 16 KiB blocks): ${aesGcmSpeed()}`);
  for (const line of header) console.log(line);

  const work = await mkdtemp(join(tmpdir(), 'tls-bench-'));
  const stops: Array<() => Promise<void>> = [];
  const clients: EndpointClient[] = [];
  let failed = true;
  try {
    const certificates = await makeCertificates(work);
    const quayside = await startQuaysideEdge(certificates, USER, join(work, 'quayside.log'));
    stops.push(quayside.stop);
    const distribution = await startDistributionTls(certificates, join(work, 'distribution.log'));
    stops.push(distribution.stop);
    const pids: Record<Target, number> = { quaysideHttp: quayside.process.pid, quaysideTls: quayside.process.pid, distributionTls: distribution.process.pid };
    const endpoints: Record<Target, Endpoint> = {
      quaysideHttp: { label: 'quayside HTTP', host: '127.0.0.1', port: quayside.httpPort, transport: 'http' },
      quaysideTls: { label: 'quayside PROXY+TLS', host: '127.0.0.1', port: quayside.proxyPort, transport: 'proxy-https', ca: certificates.caPem },
      distributionTls: { label: 'distribution TLS', host: '127.0.0.1', port: distribution.port, transport: 'https', ca: certificates.caPem },
    };
    console.log(
      `quayside pid ${quayside.process.pid}: HTTP ${quayside.httpPort}, HTTPS ${quayside.httpsPort}, PROXY+TLS ${quayside.proxyPort}; ` +
        `distribution pid ${distribution.process.pid}: TLS ${distribution.port}; ${certificates.description}; work dir ${work}`,
    );
    const token = await quaysideToken(quayside.httpPort);
    const auth: Record<Target, Record<string, string>> = {
      quaysideHttp: { authorization: `Bearer ${token}` },
      quaysideTls: { authorization: `Bearer ${token}` },
      distributionTls: {},
    };
    const client = {} as Record<Target, EndpointClient>;
    for (const target of TARGETS) {
      client[target] = new EndpointClient(endpoints[target]);
      client[target].defaultHeaders = auth[target];
      clients.push(client[target]);
    }

    // 1. The same blob and small image pushed to each server (quayside through its PROXY+TLS port, so the
    //    push path is exercised there too; not timed).
    console.log(`1/5 pushing a ${blobBytes / MiB} MiB blob and a small image to each server ...`);
    const blob = new GeneratedBlob(blobBytes);
    blob.digest();
    for (const target of ['quaysideTls', 'distributionTls'] as const) {
      await client[target].pushBlob(REPOSITORY, blob);
      await pushSmallImage(client[target]);
    }

    // 2. One untimed pull through every endpoint checks the bytes (and leaves the blob in the page cache).
    console.log('2/5 checking the pulled bytes ...');
    const ciphers: Partial<Record<Target, string>> = {};
    for (const target of TARGETS) {
      const hash = createHash('sha256');
      const pulled = await client[target].pull(REPOSITORY, blob.digest(), hash);
      if (pulled.bytes !== blob.size || `sha256:${hash.digest('hex')}` !== blob.digest()) throw new Error(`${endpoints[target].label}: pulled bytes differ from the pushed blob`);
      ciphers[target] = pulled.cipher || 'plain TCP';
    }
    console.log(`negotiated: ${TARGETS.map((target) => `${endpoints[target].label}: ${ciphers[target]}`).join('; ')}`);

    // 3. Timed pulls, one stream: curl (a C client, PROXY v1 header) and the Node https client (PROXY v2 header).
    console.log(`3/5 pulling, ${runs} x 3 targets x 2 clients (and curl through the HTTPS port) ...`);
    const setup: BenchSetup = { endpoints, pids, auth, clients: client, caFile: certificates.caFile };
    const httpsEndpoint: Endpoint = { label: 'quayside HTTPS', host: '127.0.0.1', port: quayside.httpsPort, transport: 'https', ca: certificates.caPem };
    const pulls = await measurePulls(setup, blob, REPOSITORY, runs, httpsEndpoint);

    // 4. Manifest GETs by tag on kept-alive connections.
    console.log(`4/5 manifest GETs, ${runs} x 3 x ${seconds} s (after an untimed warm-up run on each) ...`);
    const path = `/v2/${REPOSITORY}/manifests/v1`;
    const getHeaders = (target: Target) => ({ ...auth[target], accept: MANIFEST_TYPE });
    // The first seconds of load on a Node server run code the JIT has not optimised yet: not part of any figure.
    for (const target of TARGETS) {
      await getLoad(endpoints[target], path, { connections, seconds: Math.min(seconds, 3), headers: getHeaders(target), serverPid: pids[target] });
    }
    const kept = await measureLoads(runs, (target) => getLoad(endpoints[target], path, { connections, seconds, headers: getHeaders(target), serverPid: pids[target] }));

    // 5. The same GET on a new connection each time: the handshake (TCP, PROXY header, TLS) is then part of
    //    every request, as for a client that does not keep connections alive.
    const handshakeSeconds = Math.max(2, Math.round(seconds / 2));
    console.log(`5/5 manifest GETs on a new connection each, ${runs} x 3 x ${handshakeSeconds} s, ${HANDSHAKE_CONCURRENCY} at once ...`);
    const fresh = await measureLoads(runs, (target) =>
      newConnectionLoad(endpoints[target], path, { concurrency: HANDSHAKE_CONCURRENCY, seconds: handshakeSeconds, headers: getHeaders(target), serverPid: pids[target] }),
    );

    const figure = (errors: Partial<Record<Target, string>>, values: (target: Target) => number[]) => (target: Target): Measured => {
      const error = errors[target];
      return error !== undefined ? { error } : measured(values(target));
    };
    const pullRate = (via: PullClient) => figure(pulls.errors[via], (target) => pulls.seconds[via][target].map((s) => blobBytes / MB / s));
    const pullTime = (via: PullClient) => figure(pulls.errors[via], (target) => pulls.seconds[via][target]);
    const pullCpu = (via: PullClient) => figure(pulls.errors[via], (target) => pulls.serverCpu[via][target]);
    const ownCpu = (via: PullClient) => figure(pulls.errors[via], (target) => pulls.clientCpu[via][target]);
    const loadFigure = (pick: (result: LoadResult) => number) => figure(kept.errors, (target) => kept.results[target].map(pick));
    const freshFigure = (pick: (result: LoadResult) => number) => figure(fresh.errors, (target) => fresh.results[target].map(pick));
    const row = (label: string, unit: string, better: 'higher' | 'lower', of: (target: Target) => Measured, maxTlsCost?: number): TlsRow => ({
      label,
      unit,
      better,
      quaysideHttp: of('quaysideHttp'),
      quaysideTls: of('quaysideTls'),
      distributionTls: of('distributionTls'),
      maxTlsCost,
    });
    const rows: TlsRow[] = [
      row('GET manifest', 'req/s', 'higher', loadFigure((r) => r.requestsPerSecond), 0.15),
      row('GET manifest p50 latency', 'ms', 'lower', loadFigure((r) => r.p50Ms)),
      row('GET manifest p99 latency', 'ms', 'lower', loadFigure((r) => r.p99Ms)),
      row('GET manifest server CPU per request', 'us', 'lower', loadFigure((r) => r.serverCpuUsPerRequest)),
      row('GET manifest server CPU', '% of a core', 'lower', loadFigure((r) => r.serverCpuPercent)),
      row('GET manifest load generator CPU', '% of a core', 'lower', loadFigure((r) => r.clientCpuPercent)),
      row('GET manifest, new connection each', 'req/s', 'higher', freshFigure((r) => r.requestsPerSecond)),
      row('GET manifest, new connection each, server CPU per request', 'us', 'lower', freshFigure((r) => r.serverCpuUsPerRequest)),
      row(`pull ${blobBytes / MiB} MiB, curl`, 's', 'lower', pullTime('curl'), 0.3),
      row(`pull ${blobBytes / MiB} MiB, curl`, 'MB/s', 'higher', pullRate('curl')),
      row(`pull ${blobBytes / MiB} MiB, curl, server CPU`, 's', 'lower', pullCpu('curl')),
      row(`pull ${blobBytes / MiB} MiB, curl's own CPU`, 's', 'lower', ownCpu('curl')),
      row(`pull ${blobBytes / MiB} MiB, Node client`, 's', 'lower', pullTime('node')),
      row(`pull ${blobBytes / MiB} MiB, Node client, server CPU`, 's', 'lower', pullCpu('node')),
      row(`pull ${blobBytes / MiB} MiB, Node client's own CPU`, 's', 'lower', ownCpu('node')),
    ];
    console.log('');
    console.log(renderTlsTable(rows));

    // wrk (C, OpenSSL) as a cross-check of the Node load generator: it cannot send a PROXY header, so it goes
    // to the HTTPS port (same process, same TLS code after the header) and to distribution directly.
    const wrkLines: string[] = [];
    if (!values['no-wrk']) {
      console.log('');
      console.log(`wrk cross-check (wrk -t2 -c${connections} -d${seconds}s, one run each; HTTPS port, no PROXY header):`);
      const wrkTargets: Array<[string, string, Record<string, string>]> = [
        ['quayside HTTP', `http://127.0.0.1:${quayside.httpPort}`, auth.quaysideHttp],
        ['quayside HTTPS', `https://127.0.0.1:${quayside.httpsPort}`, auth.quaysideHttp],
        ['distribution TLS', `https://127.0.0.1:${distribution.port}`, {}],
      ];
      const rates: number[] = [];
      for (const [label, base, headers] of wrkTargets) {
        try {
          const result = await runWrk(`${base}/v2/${REPOSITORY}/manifests/v1`, { headers: { ...headers, Accept: MANIFEST_TYPE }, threads: 2, connections, seconds });
          if (result.non2xx > 0 || result.socketErrors > 0) throw new Error(`${result.non2xx} non-2xx, ${result.socketErrors} socket errors`);
          rates.push(result.requestsPerSecond);
          wrkLines.push(`  ${label.padEnd(18)} ${Math.round(result.requestsPerSecond).toLocaleString('en-US').padStart(8)} req/s, p99 ${result.p99Ms.toFixed(1)} ms`);
        } catch (error) {
          rates.push(Number.NaN);
          wrkLines.push(`  ${label.padEnd(18)} error: ${message(error)}`);
        }
      }
      const [http, https, dist] = rates as [number, number, number];
      wrkLines.push(`  TLS cost (HTTP/HTTPS - 1): ${((http / https - 1) * 100).toFixed(1)} %; quayside HTTPS / distribution TLS: ${(https / dist).toFixed(2)}x`);
      for (const line of wrkLines) console.log(line);
    }
    const httpsLine = pulls.httpsPortSeconds.length === 0
      ? `curl pull through the HTTPS port: error: ${pulls.httpsPortError ?? 'not run'}`
      : `curl pull of ${blobBytes / MiB} MiB through the HTTPS port (no PROXY header), interleaved with the pulls above: median ${median(pulls.httpsPortSeconds).toFixed(2)} s (runs: ${pulls.httpsPortSeconds.map((t) => t.toFixed(2)).join(', ')})`;
    wrkLines.push(httpsLine);
    console.log(httpsLine);

    // On a shared machine the rates move with other work; the server's CPU per unit of work moves much less.
    const cpuCost = (label: string) => {
      const found = rows.find((r) => r.label === label);
      const cost = found === undefined ? undefined : tlsCost(found);
      return cost === undefined ? 'n/a' : `${cost >= 0 ? '+' : ''}${(cost * 100).toFixed(1)} %`;
    };
    const summary = rows
      .filter((r) => r.maxTlsCost !== undefined)
      .map((r) => `${r.label}: TLS cost ${((tlsCost(r) ?? Number.NaN) * 100).toFixed(1)} % ${verdictOf(r)}`);
    summary.push(
      `server CPU, TLS over HTTP: ${cpuCost('GET manifest server CPU per request')} per manifest GET, ${cpuCost(`pull ${blobBytes / MiB} MiB, curl, server CPU`)} per pull`,
    );
    console.log('');
    for (const line of summary) console.log(line);
    if (values.json) {
      await writeFile(values.json, `${JSON.stringify({ header, ciphers, rows, wrk: wrkLines, pulls, loads: kept.results, newConnectionLoads: fresh.results }, null, 2)}\n`);
      console.log(`results written to ${values.json}`);
    }
    failed = rows.some((r) => 'error' in r.quaysideHttp || 'error' in r.quaysideTls || 'error' in r.distributionTls);
    return failed ? 1 : 0;
  } finally {
    for (const c of clients) c.close();
    for (const stop of stops.reverse()) await stop();
    // The servers' logs are the first place to look when a figure is an error: keep them then.
    if (failed) console.log(`logs kept in ${work}`);
    else await rm(work, { recursive: true, force: true });
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
