// A private redis-server on a free port that a test may SIGKILL and start again on the same port (the shared
// one on 6379 must never be killed). No persistence: a restarted server is empty, as after a real crash.
import { freePort, requireCommand, startProcess, type ManagedProcess } from './processes.js';

export interface PrivateRedis {
  readonly port: number;
  /** SIGKILL: no goodbye to clients, as when the host dies. */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function launch(port: number): Promise<ManagedProcess> {
  return startProcess({
    command: requireCommand('redis-server', 'install the Debian package redis-server'),
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    ready: /Ready to accept connections/,
  });
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let server: ManagedProcess | undefined = await launch(port);
  return {
    port,
    async kill() {
      if (server === undefined) return;
      process.kill(server.pid, 'SIGKILL');
      await server.stop();
      server = undefined;
    },
    async restart() {
      if (server !== undefined) throw new Error('the private redis-server is still running');
      server = await launch(port);
    },
    async stop() {
      await server?.stop();
      server = undefined;
    },
  };
}
