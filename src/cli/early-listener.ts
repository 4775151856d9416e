import net from 'node:net';
import { CliError } from './cli-error.js';

/**
 * The listening socket of `serve`, bound before anything else happens (so a port in use fails before a
 * migration runs or a signing key is published). When the HTTP application is ready, its server takes over
 * the bound socket itself (so its own connection tracking and close() drain work as usual); connections that
 * arrived in between are handed to it too.
 */
export class EarlyListener {
  private readonly waiting = new Set<net.Socket>();
  private readonly handedOver = new Set<net.Socket>();
  private attached = false;
  private dispatcher: ((socket: net.Socket) => void) | undefined;

  private constructor(private readonly server: net.Server) {
    server.on('connection', (socket) => {
      if (this.dispatcher !== undefined) {
        this.dispatcher(socket);
        return;
      }
      this.waiting.add(socket);
      socket.once('close', () => this.waiting.delete(socket));
    });
  }

  /** Binds address:port; one line (exit 1) when the port is taken or not allowed. */
  static async bind(address: string, port: number): Promise<EarlyListener> {
    const server = net.createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address, port }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      const shown = `${address.includes(':') ? `[${address}]` : address}:${port}`;
      const reason = code === 'EADDRINUSE' ? 'the address is already in use'
        : code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)'
          : code === 'EADDRNOTAVAIL' ? 'no such local address' : error instanceof Error ? error.message : String(error);
      throw new CliError(`serve: cannot listen on ${shown}: ${reason}`);
    });
    return new EarlyListener(server);
  }

  /** The bound port (the chosen one when 0 was asked for). */
  get port(): number {
    const bound = this.server.address();
    return typeof bound === 'object' && bound !== null ? bound.port : 0;
  }

  /**
   * The server (HTTP, TLS or PROXY protocol: any net.Server) takes over the bound socket; connections that
   * waited are handed to it.
   */
  async attach(target: net.Server): Promise<void> {
    this.attached = true;
    await new Promise<void>((resolve, reject) => {
      target.once('error', reject);
      target.listen(this.server, () => {
        target.off('error', reject);
        resolve();
      });
    });
    for (const socket of this.waiting) {
      this.waiting.delete(socket);
      this.handedOver.add(socket);
      socket.once('close', () => this.handedOver.delete(socket));
      target.emit('connection', socket);
      socket.resume();
    }
  }

  /**
   * With worker processes: this process keeps accepting, and every connection (the waiting ones first) goes,
   * still paused, to `dispatcher`, which sends it to a worker (src/cluster/worker-pool.ts).
   */
  dispatch(dispatcher: (socket: net.Socket) => void): void {
    this.dispatcher = dispatcher;
    for (const socket of this.waiting) {
      this.waiting.delete(socket);
      dispatcher(socket);
    }
  }

  /**
   * Before attach: stops listening. After: the attached server owns the socket and closes it; this only cuts the
   * few connections that arrived before it took over (its own tracking does not know them).
   */
  async close(): Promise<void> {
    for (const socket of [...this.waiting, ...this.handedOver]) socket.destroy();
    if (!this.attached && this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
