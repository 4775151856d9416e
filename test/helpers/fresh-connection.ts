// One HTTP request on a TCP connection of its own, closed after the answer: with worker processes, the
// primary deals each connection to the next worker, so a series of these reaches every worker in turn.
import { request as httpRequest } from 'node:http';

export interface FreshAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Never rejects on a status; rejects when the connection fails. */
export function requestOnFreshConnection(url: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<FreshAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: { ...options.headers, connection: 'close' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
