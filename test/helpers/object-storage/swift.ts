// OpenStack Swift from Debian's packages as a one-node, one-replica cluster on a scratch directory: rings built
// with swift-ring-builder, account/container/object servers and proxies in one process each (workers = 0)
// on loopback ports, running as root with mount_check off.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireCommand, run } from '../processes.js';
import { renderBackendConf, renderProxyConf, renderSwiftConf, type ProxyConfig, type SwiftLayout, type SwiftPorts } from './config.js';
import { httpAnswers, spawnDaemon, waitReady, type Daemon } from './daemons.js';

const BACKENDS = ['account', 'container', 'object'] as const;

export function swiftLayout(root: string): SwiftLayout {
  return { swiftDir: join(root, 'swift'), devicesDir: join(root, 'devices'), stateDir: join(root, 'state') };
}

/** swift.conf and one ring per server kind, each with the single device `d1` on 127.0.0.1. */
async function buildRings(layout: SwiftLayout, ports: SwiftPorts): Promise<void> {
  const builder = requireCommand('swift-ring-builder', 'apt-get install swift');
  await mkdir(join(layout.devicesDir, 'd1'), { recursive: true });
  await mkdir(layout.stateDir, { recursive: true });
  await mkdir(layout.swiftDir, { recursive: true });
  await writeFile(join(layout.swiftDir, 'swift.conf'), renderSwiftConf());
  await Promise.all(
    BACKENDS.map(async (kind) => {
      const file = join(layout.swiftDir, `${kind}.builder`);
      const steps = [
        ['create', '6', '1', '1'],
        ['add', `r1z1-127.0.0.1:${ports[kind]}/d1`, '100'],
        ['rebalance'],
      ];
      for (const step of steps) {
        const result = await run(builder, [file, ...step], { timeoutMs: 60_000 });
        // 1 is "completed with warnings" (a one-device ring is always unbalanced by its standards).
        if (result.code !== 0 && result.code !== 1) {
          throw new Error(`swift-ring-builder ${file} ${step.join(' ')} exited ${result.code}: ${result.stdout}${result.stderr}`);
        }
      }
    }),
  );
}

/** Starts one Swift server from its config file and waits until its /healthcheck says OK. */
async function startSwiftServer(name: string, command: string, conf: string, port: number, logFile: string): Promise<Daemon> {
  const daemon = spawnDaemon({ name, command: requireCommand(command, 'apt-get install swift swift-proxy swift-object swift-container swift-account'), args: [conf, '--verbose'], logFile });
  try {
    await waitReady(daemon, 'OK on /healthcheck', () => httpAnswers(`http://127.0.0.1:${port}/healthcheck`, 200), 90_000);
  } catch (error) {
    await daemon.stop();
    throw error;
  }
  return daemon;
}

/** Builds the rings and starts the account, container and object servers. */
export async function startSwiftBackends(root: string, ports: SwiftPorts): Promise<Daemon[]> {
  const layout = swiftLayout(root);
  await buildRings(layout, ports);
  return Promise.all(
    BACKENDS.map(async (kind) => {
      const conf = join(layout.swiftDir, `${kind}-server.conf`);
      await writeFile(conf, renderBackendConf(kind, ports[kind], layout));
      return startSwiftServer(`swift-${kind}-server`, `swift-${kind}-server`, conf, ports[kind], join(root, `${kind}-server.log`));
    }),
  );
}

/** Writes a proxy config for `config.port` (under `root`, named after the port) and starts that proxy. */
export async function startSwiftProxy(root: string, config: ProxyConfig): Promise<Daemon> {
  const conf = join(root, `proxy-server-${config.port}.conf`);
  await writeFile(conf, renderProxyConf(config));
  return startSwiftServer(`swift-proxy-server :${config.port}`, 'swift-proxy-server', conf, config.port, join(root, `proxy-server-${config.port}.log`));
}
