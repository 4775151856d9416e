// One blob pull with curl (C, OpenSSL), as a client whose own cost stays far below the server's: for the PROXY
// port it sends the PROXY v1 header before TLS (--haproxy-protocol; curl has no v2), which costs the same one
// header per connection as v2.
import { requireCommand, run } from '../test/helpers/processes.js';
import type { Endpoint } from './tls-connect.js';

export interface CurlPull {
  seconds: number;
  bytes: number;
}

/** GET `path` from `endpoint` with curl, body to /dev/null; throws unless 200 with `expectedBytes` bytes. */
export async function curlPull(endpoint: Endpoint, path: string, options: { headers: Record<string, string>; caFile: string; expectedBytes: number }): Promise<CurlPull> {
  const curl = requireCommand('curl', 'apt-get install curl');
  const scheme = endpoint.transport === 'http' ? 'http' : 'https';
  const args = ['-sS', '--http1.1', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}'];
  if (endpoint.transport !== 'http') args.push('--cacert', options.caFile);
  if (endpoint.transport === 'proxy-https') args.push('--haproxy-protocol');
  for (const [name, value] of Object.entries(options.headers)) args.push('-H', `${name}: ${value}`);
  args.push(`${scheme}://${endpoint.host}:${endpoint.port}${path}`);
  const result = await run(curl, args, { timeoutMs: 300_000 });
  const [status, bytes, seconds] = result.stdout.trim().split(' ').map(Number) as [number, number, number];
  if (result.code !== 0 || status !== 200 || bytes !== options.expectedBytes) {
    throw new Error(`curl ${endpoint.label}: exit ${result.code}, status ${status}, ${bytes} of ${options.expectedBytes} bytes: ${result.stderr.trim().slice(0, 200)}`);
  }
  return { seconds, bytes };
}
