// One blob pull with curl (C, OpenSSL), as a client whose own cost stays far below the server's: for the PROXY
// port it sends the PROXY v1 header before TLS (--haproxy-protocol; curl has no v2), which costs the same one
// header per connection as v2.
import { requireCommand, run } from '../test/helpers/processes.js';
import type { Endpoint } from './tls-connect.js';

export interface CurlPull {
  seconds: number;
  bytes: number;
  /** CPU curl itself used (user + system), in seconds: how much of the machine the client took. */
  clientCpuSeconds: number;
}

/** "1m2.500s" (bash's `times`) in seconds. */
function bashDuration(text: string): number {
  const match = /^(\d+)m([\d.]+)s$/.exec(text);
  return match ? Number(match[1]) * 60 + Number(match[2]) : Number.NaN;
}

/** GET `path` from `endpoint` with curl, body to /dev/null; throws unless 200 with `expectedBytes` bytes. */
export async function curlPull(endpoint: Endpoint, path: string, options: { headers: Record<string, string>; caFile: string; expectedBytes: number }): Promise<CurlPull> {
  const curl = requireCommand('curl', 'apt-get install curl');
  const scheme = endpoint.transport === 'http' ? 'http' : 'https';
  const args = ['-sS', '--http1.1', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}\\n'];
  if (endpoint.transport !== 'http') args.push('--cacert', options.caFile);
  if (endpoint.transport === 'proxy-https') args.push('--haproxy-protocol');
  for (const [name, value] of Object.entries(options.headers)) args.push('-H', `${name}: ${value}`);
  args.push(`${scheme}://${endpoint.host}:${endpoint.port}${path}`);
  // bash's `times` after curl prints the CPU its children used (the last line: user and system).
  const script = 'curl="$1"; shift; "$curl" "$@"; code=$?; times; exit $code';
  const result = await run(requireCommand('bash'), ['-c', script, 'bash', curl, ...args], { timeoutMs: 300_000 });
  const lines = result.stdout.trim().split('\n');
  const [status, bytes, seconds] = (lines[0] ?? '').split(' ').map(Number) as [number, number, number];
  const [user, system] = (lines.at(-1) ?? '').split(' ').map(bashDuration) as [number, number];
  if (result.code !== 0 || status !== 200 || bytes !== options.expectedBytes) {
    throw new Error(`curl ${endpoint.label}: exit ${result.code}, status ${status}, ${bytes} of ${options.expectedBytes} bytes: ${result.stderr.trim().slice(0, 200)}`);
  }
  return { seconds, bytes, clientCpuSeconds: user + system };
}
