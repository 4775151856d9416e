import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';

/** Where /metrics is served from: a bound port that an HTTP server can take over (src/cli/early-listener.ts). */
export interface MetricsPort {
  attach(target: Server): Promise<void>;
}

export interface RunningMetricsServer {
  close(): Promise<void>;
}

/**
 * `GET /metrics` in Prometheus text format on its own port, apart from the registry's public listeners (as Quay
 * serves its metrics). `collect` gives the text: this process's registry, or the primary's sum over its workers.
 * Anything else is 404; a collection that fails is a 503 with one line, never a stack trace.
 */
export async function serveMetrics(port: MetricsPort, collect: () => Promise<string>, contentType: string, log?: Pick<Logger, 'warn'>): Promise<RunningMetricsServer> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at GET /metrics\n');
      return;
    }
    collect().then(
      (text) => {
        response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        log?.warn({ err: error }, 'metrics: collection failed');
        response.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics are unavailable right now; retry\n');
      },
    );
  });
  server.keepAliveTimeout = 5_000;
  await port.attach(server);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
