import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderProxyConf } from '../helpers/object-storage/config.js';
import { httpAnswers, spawnDaemon, waitReady, type Daemon } from '../helpers/object-storage/daemons.js';
import type { ObjectStorageDescription } from '../helpers/object-storage/index.js';
import { freePort } from '../helpers/processes.js';

/**
 * A swift-proxy of the S3 tests' own over the run's Swift backends whose s3api answers tempauth-signed
 * requests without asking Keystone first. On the shared proxy, s3token sends every S3 request to Keystone
 * (250-800 ms each on a busy machine, too slow for the conformance suite's hundreds of calls); this is the
 * same Swift and the same s3api, with tempauth's S3 keys (`account:user` and the v1 key). The shared,
 * Keystone-backed endpoint is still used by a test of its own.
 */

export interface TempauthS3Proxy {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  stop(): Promise<void>;
}

const KEYSTONE_FILTERS = /\b(authtoken|s3token|keystoneauth) /g;

export async function startTempauthS3Proxy(description: ObjectStorageDescription): Promise<TempauthS3Proxy> {
  const port = await freePort();
  const shared = renderProxyConf({ ...description.proxyConfig, port });
  const config = shared.replace(/^pipeline = .*$/m, (line) => line.replace(KEYSTONE_FILTERS, ''));
  if (config === shared || /^pipeline = .*(s3token|authtoken)/m.test(config)) {
    throw new Error('the object-storage proxy configuration changed: cannot derive a tempauth-only S3 proxy from it');
  }
  const conf = path.join(description.root, `proxy-server-s3-tempauth-${port}.conf`);
  await writeFile(conf, config);
  const daemon: Daemon = spawnDaemon({
    name: `swift-proxy-server (S3, tempauth) :${port}`,
    command: 'swift-proxy-server',
    args: [conf],
    logFile: path.join(description.root, `proxy-server-s3-tempauth-${port}.log`),
  });
  try {
    await waitReady(daemon, 'OK on /healthcheck', () => httpAnswers(`http://127.0.0.1:${port}/healthcheck`, 200));
  } catch (error) {
    await daemon.stop();
    throw error;
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId: description.s3.tempauth.accessKeyId,
    secretAccessKey: description.s3.tempauth.secretAccessKey,
    stop: () => daemon.stop(),
  };
}
