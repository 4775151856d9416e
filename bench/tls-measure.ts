// The TLS benchmark's timed phases: blob pulls and GET loads, each repeated with the targets interleaved, so that
// drift in the machine's load hits every target alike. A target that fails once keeps its error and is skipped.
import type { GeneratedBlob } from './registry-client.js';
import type { EndpointClient } from './tls-client.js';
import type { Endpoint } from './tls-connect.js';
import { curlPull } from './tls-curl.js';
import { processCpuSeconds, type LoadResult } from './tls-load.js';

export type Target = 'quaysideHttp' | 'quaysideTls' | 'distributionTls';
export const TARGETS: readonly Target[] = ['quaysideHttp', 'quaysideTls', 'distributionTls'];

/** What every phase needs about the running servers. */
export interface BenchSetup {
  endpoints: Record<Target, Endpoint>;
  /** The server process behind each target, for its CPU time. */
  pids: Record<Target, number>;
  /** Request headers (quayside's token) per target. */
  auth: Record<Target, Record<string, string>>;
  clients: Record<Target, EndpointClient>;
  caFile: string;
}

export function message(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error);
}

export const PULL_CLIENTS = ['curl', 'node'] as const;
export type PullClient = (typeof PULL_CLIENTS)[number];

type PerTarget<T> = Record<Target, T[]>;
const perTarget = <T>(): PerTarget<T> => ({ quaysideHttp: [], quaysideTls: [], distributionTls: [] });

export interface PullFigures {
  seconds: Record<PullClient, PerTarget<number>>;
  serverCpu: Record<PullClient, PerTarget<number>>;
  clientCpu: Record<PullClient, PerTarget<number>>;
  errors: Record<PullClient, Partial<Record<Target, string>>>;
  /** curl through quayside's HTTPS port (no PROXY header), in the same rotation. */
  httpsPortSeconds: number[];
  httpsPortError?: string;
}

/**
 * `runs` rounds of one-stream pulls of `blob` from every target with curl and with the Node client, plus one
 * curl pull through `httpsPort` (quayside's HTTPS port) per round: the PROXY path should cost no more than it.
 */
export async function measurePulls(setup: BenchSetup, blob: GeneratedBlob, repository: string, runs: number, httpsPort: Endpoint): Promise<PullFigures> {
  const figures: PullFigures = {
    seconds: { curl: perTarget(), node: perTarget() },
    serverCpu: { curl: perTarget(), node: perTarget() },
    clientCpu: { curl: perTarget(), node: perTarget() },
    errors: { curl: {}, node: {} },
    httpsPortSeconds: [],
  };
  const path = `/v2/${repository}/blobs/${blob.digest()}`;
  const curlOptions = (target: Target) => ({ headers: setup.auth[target], caFile: setup.caFile, expectedBytes: blob.size });
  for (let run = 0; run < runs; run += 1) {
    if (figures.httpsPortError === undefined) {
      try {
        figures.httpsPortSeconds.push((await curlPull(httpsPort, path, curlOptions('quaysideHttp'))).seconds);
      } catch (error) {
        figures.httpsPortError = message(error);
      }
    }
    for (const target of TARGETS) {
      for (const via of PULL_CLIENTS) {
        if (figures.errors[via][target] !== undefined) continue;
        try {
          const serverBefore = processCpuSeconds(setup.pids[target]);
          let elapsed: number;
          if (via === 'curl') {
            const pulled = await curlPull(setup.endpoints[target], path, curlOptions(target));
            elapsed = pulled.seconds;
            figures.clientCpu.curl[target].push(pulled.clientCpuSeconds);
          } else {
            const ownBefore = process.cpuUsage();
            const start = process.hrtime.bigint();
            const pulled = await setup.clients[target].pull(repository, blob.digest());
            elapsed = Number(process.hrtime.bigint() - start) / 1e9;
            if (pulled.bytes !== blob.size) throw new Error(`short body: ${pulled.bytes} of ${blob.size} bytes`);
            const own = process.cpuUsage(ownBefore);
            figures.clientCpu.node[target].push((own.user + own.system) / 1e6);
          }
          figures.seconds[via][target].push(elapsed);
          figures.serverCpu[via][target].push(processCpuSeconds(setup.pids[target]) - serverBefore);
        } catch (error) {
          figures.errors[via][target] = message(error);
        }
      }
    }
  }
  return figures;
}

export interface LoadFigures {
  results: PerTarget<LoadResult>;
  errors: Partial<Record<Target, string>>;
}

/** `runs` rounds of `load` on every target; a run with any non-2xx answer or failed connection is an error. */
export async function measureLoads(runs: number, load: (target: Target) => Promise<LoadResult>): Promise<LoadFigures> {
  const figures: LoadFigures = { results: perTarget(), errors: {} };
  for (let run = 0; run < runs; run += 1) {
    for (const target of TARGETS) {
      if (figures.errors[target] !== undefined) continue;
      try {
        const result = await load(target);
        if (result.requests === 0) throw new Error('no request completed');
        // A rate made of error answers would flatter whoever fails fastest.
        if (result.non2xx > 0 || result.socketErrors > 0) throw new Error(`${result.non2xx} non-2xx responses and ${result.socketErrors} failed connections out of ${result.requests}`);
        figures.results[target].push(result);
      } catch (error) {
        figures.errors[target] = message(error);
      }
    }
  }
  return figures;
}
