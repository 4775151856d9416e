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

/**
 * A GET that gives up mid-body, as a client killed during a pull does: waits for the status and the first
 * body bytes, then destroys the connection. Resolves with the status and how many body bytes had arrived.
 */
export function cutAfterFirstBytes(url: string, headers: Record<string, string> = {}): Promise<{ status: number; received: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { ...headers, connection: 'close' }, agent: false }, (res) => {
      res.once('data', (chunk: Buffer) => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, received: chunk.length });
      });
      res.once('end', () => reject(new Error(`${url}: the whole body arrived before it could be cut`)));
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (!req.destroyed) reject(error);
    });
    req.end();
  });
}
