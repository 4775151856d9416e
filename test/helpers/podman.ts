// Debian's podman on storage of its own: podman runs as root without systemd here, so every call names its
// own root and run root (vfs under the test's directory: plain directories, removed with it), the cgroupfs
// manager and the file events logger. Nothing of the machine's own podman storage is touched.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { requireCommand, run, type Credentials } from './processes.js';

export interface PrivatePodman {
  /** Runs podman on this storage; fails with its output unless it exits 0, else returns stdout. */
  podman(...args: string[]): Promise<string>;
  /** `podman login` to a plain-HTTP registry with the password on stdin; the auth file is this storage's. */
  login(hostPort: string, credentials: Credentials): Promise<void>;
  /** The flags a pull or push needs for this storage's auth file and a plain-HTTP registry. */
  readonly registryFlags: string[];
}

export function privatePodman(dir: string): PrivatePodman {
  const binary = requireCommand('podman', 'apt-get install podman');
  const authFile = join(dir, 'auth.json');
  const global = ['--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  const podman = async (...args: string[]): Promise<string> => {
    const result = await run(binary, [...global, ...args], { timeoutMs: 180_000 });
    assert.equal(result.code, 0, `podman ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
    return result.stdout;
  };
  return {
    podman,
    registryFlags: ['--tls-verify=false', '--authfile', authFile],
    async login(hostPort, credentials) {
      const result = await run(binary, [...global, 'login', '--tls-verify=false', '--authfile', authFile, '--username', credentials.username, '--password-stdin', hostPort], {
        input: `${credentials.password}\n`,
        timeoutMs: 60_000,
      });
      assert.equal(result.code, 0, `podman login exited ${result.code}:\n${result.stderr}`);
    },
  };
}
