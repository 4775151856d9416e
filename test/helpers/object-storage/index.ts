// The object-storage server of the tests: ONE Swift (tempauth v1 + Keystone v3 + s3api + tempurl + SLO) per
// test run. scripts/test.sh starts it once (main.ts) and points QUAYSIDE_OBJECT_STORAGE at its JSON
// description; a test file run alone starts its own, which dies with that process. Each test uses its own
// container or bucket (randomName), so test files may share the server concurrently.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { freePort } from '../processes.js';
import type { Daemon } from './daemons.js';
import { startObjectStorage, startTempauthSwift, type ObjectStorageDescription, type SwiftClusterDescription } from './server.js';
import { startSwiftProxy } from './swift.js';

export type { ObjectStorageDescription, SwiftClusterDescription } from './server.js';
export { v1Auth } from './server.js';

/** The environment variable naming the JSON description file of a server started for the whole run. */
export const OBJECT_STORAGE_ENV = 'QUAYSIDE_OBJECT_STORAGE';
/** The same for the second, independent Swift cluster (tempauth only) of the geo-replication tests. */
export const SECOND_SWIFT_ENV = 'QUAYSIDE_SECOND_SWIFT';

/** A second swift-proxy over the same backends, Keystone and memcached (tokens are valid on both). */
export interface PrivateProxy {
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** tempauth's v1 auth URL on this proxy. */
  readonly v1AuthUrl: string;
  /** The Keystone project's storage URL on this proxy (the full server's; undefined on the second cluster). */
  readonly keystoneStorageUrl: string | undefined;
  /** The tempauth account's storage URL on this proxy. */
  readonly v1StorageUrl: string;
  /** Stops the proxy (connections are refused until start()). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  running(): boolean;
}

export interface ObjectStorageServers extends ObjectStorageDescription {
  /**
   * A proxy of this test's own, which it may stop and restart without disturbing other test files.
   * `tempauth-only` leaves Keystone out of its pipeline (fast for tempauth tokens).
   */
  startPrivateProxy(options?: { auth?: 'all' | 'tempauth-only' }): Promise<PrivateProxy>;
}

export interface SecondSwiftServers extends SwiftClusterDescription {
  startPrivateProxy(): Promise<PrivateProxy>;
}

let shared: Promise<ObjectStorageDescription> | undefined;
let second: Promise<SwiftClusterDescription> | undefined;

async function readDescription<D>(variable: string): Promise<D | undefined> {
  const file = process.env[variable];
  if (file === undefined || file === '') return undefined;
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new Error(`${variable}=${file} but it cannot be read (${String(error)}); was the object-storage server started?`);
  });
  return JSON.parse(text) as D;
}

async function describeServer(): Promise<ObjectStorageDescription> {
  const described = await readDescription<ObjectStorageDescription>(OBJECT_STORAGE_ENV);
  if (described !== undefined) return described;
  // Started here, it lives as long as this test process: every daemon is killed when the process exits,
  // and its scratch directory goes with it.
  const running = await startObjectStorage();
  process.once('exit', () => rmSync(running.description.root, { recursive: true, force: true }));
  return running.description;
}

async function describeSecond(): Promise<SwiftClusterDescription> {
  const described = await readDescription<SwiftClusterDescription>(SECOND_SWIFT_ENV);
  if (described !== undefined) return described;
  const running = await startTempauthSwift();
  process.once('exit', () => rmSync(running.description.root, { recursive: true, force: true }));
  return running.description;
}

/**
 * The run's second Swift cluster (independent of objectStorage()'s: other daemons, other ports, other
 * disks); starts one in this process when none was started for the run.
 */
export async function secondSwift(): Promise<SecondSwiftServers> {
  second ??= describeSecond();
  second.catch(() => {
    second = undefined;
  });
  const description = await second;
  return { ...description, startPrivateProxy: () => startPrivateProxy(description, undefined) };
}

/** The run's object-storage server; starts one in this process when none was started for the run. */
export async function objectStorage(): Promise<ObjectStorageServers> {
  shared ??= describeServer();
  shared.catch(() => {
    shared = undefined;
  });
  const description = await shared;
  return { ...description, startPrivateProxy: (options) => startPrivateProxy(description, description.keystone.projectId, options?.auth) };
}

async function startPrivateProxy(description: SwiftClusterDescription, keystoneProjectId: string | undefined, auth?: 'all' | 'tempauth-only'): Promise<PrivateProxy> {
  const port = await freePort();
  const config = { ...description.proxyConfig, port, ...(auth === undefined ? {} : { auth }) };
  let daemon: Daemon | undefined = await startSwiftProxy(description.root, config);
  const url = `http://127.0.0.1:${port}`;
  return {
    port,
    url,
    v1AuthUrl: `${url}/auth/v1.0`,
    keystoneStorageUrl: keystoneProjectId === undefined ? undefined : `${url}/v1/AUTH_${keystoneProjectId}`,
    v1StorageUrl: `${url}/v1/${description.proxyConfig.tempauth.resellerPrefix}${description.proxyConfig.tempauth.account}`,
    async stop() {
      await daemon?.stop();
      daemon = undefined;
    },
    async start() {
      if (daemon?.running()) return;
      daemon = await startSwiftProxy(description.root, config);
    },
    running: () => daemon?.running() ?? false,
  };
}

/** A container or bucket name of its own for one test: lower case, DNS-safe, unlikely to collide. */
export function randomName(prefix = 'test'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}
