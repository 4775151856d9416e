import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { LbController } from './controller.js';

/** A listening status server; `port` is the bound port (useful when 0 was asked for). */
export interface StatusServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves GET /status (JSON) and GET /metrics (Prometheus text) for a controller. */
export async function startStatusServer(controller: LbController, port: number, host = '127.0.0.1'): Promise<StatusServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const reply = async (): Promise<void> => {
      if (path === '/status') {
        const body = JSON.stringify(await controller.status(), null, 2);
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      } else if (path === '/metrics') {
        // Refresh the per-service gauges from show stat before exposing them.
        await controller.status();
        const text = await controller.metrics.text();
        res.writeHead(200, { 'content-type': controller.metrics.registry.contentType }).end(text);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /status or /metrics\n');
      }
    };
    reply().catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return {
    port: bound,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
