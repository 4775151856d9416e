// Runs wrk against one URL and reads its --latency report. (wrk 4.1 cannot do HEAD: see registry-head-load.ts.)
import { requireCommand, run } from '../test/helpers/processes.js';

/** What one wrk run measured. */
export interface WrkResult {
  requestsPerSecond: number;
  /** Latency percentiles in milliseconds. */
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Responses outside 2xx/3xx: a non-zero count means the figure measures errors, not work. */
  non2xx: number;
  /** connect + read + write + timeout errors. */
  socketErrors: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Converts a wrk duration such as "812.00us", "1.23ms" or "2.01s" to milliseconds. */
export function wrkDurationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!match) throw new Error(`not a wrk duration: "${text}"`);
  return Number(match[1]) * (UNIT_MS[match[2] as string] ?? Number.NaN);
}

/** Parses the text `wrk --latency` prints; throws when a figure is missing (wrk failed or changed format). */
export function parseWrkOutput(output: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const p50 = /^\s*50%\s+(\S+)/m.exec(output);
  const p99 = /^\s*99%\s+(\S+)/m.exec(output);
  const total = /(\d+) requests in /.exec(output);
  if (!rps || !p50 || !p99 || !total) throw new Error(`cannot read wrk output:\n${output}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    requestsPerSecond: Number(rps[1]),
    p50Ms: wrkDurationMs(p50[1] as string),
    p99Ms: wrkDurationMs(p99[1] as string),
    requests: Number(total[1]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: socket ? socket.slice(1).reduce((sum, value) => sum + Number(value), 0) : 0,
  };
}

/** Runs `wrk -t<threads> -c<connections> -d<seconds>s --latency` for GET `url` with the given headers. */
export async function runWrk(
  url: string,
  options: { headers?: Record<string, string>; threads: number; connections: number; seconds: number },
): Promise<WrkResult> {
  const wrk = requireCommand('wrk', 'apt-get install wrk');
  const args = [`-t${options.threads}`, `-c${options.connections}`, `-d${options.seconds}s`, '--latency', '--timeout', '10s'];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(url);
  const result = await run(wrk, args, { timeoutMs: (options.seconds + 60) * 1000 });
  if (result.code !== 0) throw new Error(`wrk exited ${result.code}: ${result.stderr}${result.stdout}`);
  return parseWrkOutput(result.stdout);
}
