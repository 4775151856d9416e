// A private Docker daemon for one test (Debian's docker.io): its own data root, exec root, pid file and UNIX
// socket in a temp dir, no bridge and no iptables rules (the tests only talk to loopback), vfs storage (no
// overlay mounts needed), its own containerd namespace. The machine's own dockerd, if any, is never touched.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireCommand, run, startProcess, type ManagedProcess, type RunResult } from './processes.js';

export interface PrivateDockerd {
  /** `unix:///.../docker.sock`, for `docker -H`. */
  readonly host: string;
  readonly process: ManagedProcess;
  /** Runs the docker CLI against this daemon with its own client config dir (auths of this test only). */
  docker(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<RunResult>;
  /** Stops the daemon (and the containerd it started) and removes its directories. */
  stop(): Promise<void>;
}

/** Starts dockerd and waits until it serves its API; throws with the daemon's output when it cannot start. */
export async function startPrivateDockerd(): Promise<PrivateDockerd> {
  const dockerd = requireCommand('dockerd', 'apt-get install docker.io');
  const dockerCli = requireCommand('docker', 'apt-get install docker.io');
  // Short: containerd's sockets live under the exec root (UNIX socket paths are limited to 107 bytes).
  const dir = await mkdtemp(join(tmpdir(), 'qd-'));
  const clientConfig = join(dir, 'client');
  await mkdir(clientConfig);
  const socket = join(dir, 'docker.sock');
  const namespace = `quayside-test-${process.pid}`;
  let daemon: ManagedProcess;
  try {
    daemon = await startProcess({
      command: dockerd,
      args: [
        '--data-root', join(dir, 'data'),
        '--exec-root', join(dir, 'exec'),
        '--pidfile', join(dir, 'dockerd.pid'),
        '-H', `unix://${socket}`,
        '--bridge=none',
        '--iptables=false',
        '--ip6tables=false',
        '--storage-driver', 'vfs',
        '--containerd-namespace', namespace,
        '--containerd-plugins-namespace', `${namespace}-plugins`,
      ],
      ready: /API listen on /,
      readyTimeoutMs: 60_000,
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const host = `unix://${socket}`;
  return {
    host,
    process: daemon,
    docker: (args, options = {}) =>
      run(dockerCli, ['--config', clientConfig, '-H', host, ...args], { input: options.input, timeoutMs: options.timeoutMs ?? 180_000 }),
    async stop() {
      await daemon.stop(20_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
