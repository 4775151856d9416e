// A keep-alive HEAD load generator on raw sockets. wrk 4.1 cannot measure HEAD: its parser waits for the
// Content-Length bytes that a HEAD response never sends, so every connection stalls after one request.
import { connect, type Socket } from 'node:net';
import type { WrkResult } from './registry-wrk.js';

/** The value at quantile q (0..1) of ascending-sorted numbers. */
function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

/**
 * Sends HEAD `url` on `connections` keep-alive connections, one request in flight on each, for `seconds`;
 * reports the same figures as a wrk run.
 */
export async function headLoad(url: string, options: { connections: number; seconds: number; headers?: Record<string, string> }): Promise<WrkResult> {
  const target = new URL(url);
  const extra = Object.entries(options.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const request = Buffer.from(`HEAD ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n${extra}\r\n`);
  const latencies: number[] = [];
  let non2xx = 0;
  let socketErrors = 0;
  const deadline = performance.now() + options.seconds * 1000;
  const start = performance.now();

  const sockets = new Set<Socket>();
  const runConnection = () =>
    new Promise<void>((finished) => {
      let done = false;
      const finish = () => {
        clearTimeout(guard);
        if (!done) {
          done = true;
          finished();
        }
      };
      // A server that stops answering must not hold the run past its deadline.
      const guard: NodeJS.Timeout = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
        finish();
      }, options.seconds * 1000 + 10_000);
      const open = (): void => {
        if (performance.now() >= deadline) {
          finish();
          return;
        }
        const socket = connect(Number(target.port || 80), target.hostname);
        sockets.add(socket);
        let pending = '';
        let sentAt = 0;
        let retired = false;
        const retire = (reopenAfterMs: number) => {
          if (retired) return;
          retired = true;
          sockets.delete(socket);
          socket.destroy();
          setTimeout(open, reopenAfterMs);
        };
        const send = () => {
          if (performance.now() >= deadline) {
            retire(0);
            return;
          }
          sentAt = performance.now();
          socket.write(request);
        };
        socket.setNoDelay(true);
        socket.on('connect', send);
        socket.on('data', (chunk: Buffer) => {
          pending += chunk.toString('latin1');
          // A HEAD response is headers only: each blank line ends one response.
          let end = pending.indexOf('\r\n\r\n');
          while (end !== -1) {
            const head = pending.slice(0, end);
            pending = pending.slice(end + 4);
            latencies.push(performance.now() - sentAt);
            const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
            if (status < 200 || status >= 400) non2xx += 1;
            if (/\r\nconnection:\s*close/i.test(head)) {
              retire(0);
              return;
            }
            send();
            end = pending.indexOf('\r\n\r\n');
          }
        });
        socket.on('error', () => {
          socketErrors += 1;
          retire(10);
        });
        socket.on('close', () => {
          if (!retired) {
            socketErrors += 1;
            retire(10);
          }
        });
      };
      open();
    });

  await Promise.all(Array.from({ length: options.connections }, runConnection));
  const elapsed = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    requestsPerSecond: latencies.length / elapsed,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    requests: latencies.length,
    non2xx,
    socketErrors,
  };
}
