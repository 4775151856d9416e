// The object-storage server of the tests: ONE Swift (tempauth v1 + Keystone v3 + s3api + tempurl + SLO) per
// test run. scripts/test.sh starts it once (main.ts) and points QUAYSIDE_OBJECT_STORAGE at its JSON
// description; a test file run alone starts its own, which dies with that process. Each test uses its own
// container or bucket (randomName), so test files may share the server concurrently.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { freePort } from '../processes.js';
import type { Daemon } from './daemons.js';
import { startObjectStorage, type ObjectStorageDescription } from './server.js';
import { startSwiftProxy } from './swift.js';

export type { ObjectStorageDescription } from './server.js';
export { v1Auth } from './server.js';

/** The environment variable naming the JSON description file of a server started for the whole run. */
export const OBJECT_STORAGE_ENV = 'QUAYSIDE_OBJECT_STORAGE';

/** A second swift-proxy over the same backends, Keystone and memcached (tokens are valid on both). */
export interface PrivateProxy {
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** tempauth's v1 auth URL on this proxy. */
  readonly v1AuthUrl: string;
  /** The Keystone project's storage URL on this proxy. */
  readonly keystoneStorageUrl: string;
  /** Stops the proxy (connections are refused until start()). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  running(): boolean;
}

export interface ObjectStorageServers extends ObjectStorageDescription {
  /** A proxy of this test's own, which it may stop and restart without disturbing other test files. */
  startPrivateProxy(): Promise<PrivateProxy>;
}

let shared: Promise<ObjectStorageDescription> | undefined;

async function describeServer(): Promise<ObjectStorageDescription> {
  const file = process.env[OBJECT_STORAGE_ENV];
  if (file !== undefined && file !== '') {
    const text = await readFile(file, 'utf8').catch((error: unknown) => {
      throw new Error(`${OBJECT_STORAGE_ENV}=${file} but it cannot be read (${String(error)}); was the object-storage server started?`);
    });
    return JSON.parse(text) as ObjectStorageDescription;
  }
  // Started here, it lives as long as this test process: every daemon is killed when the process exits.
  const running = await startObjectStorage();
  return running.description;
}

/** The run's object-storage server; starts one in this process when none was started for the run. */
export async function objectStorage(): Promise<ObjectStorageServers> {
  shared ??= describeServer();
  shared.catch(() => {
    shared = undefined;
  });
  const description = await shared;
  return { ...description, startPrivateProxy: () => startPrivateProxy(description) };
}

async function startPrivateProxy(description: ObjectStorageDescription): Promise<PrivateProxy> {
  const port = await freePort();
  const config = { ...description.proxyConfig, port };
  let daemon: Daemon | undefined = await startSwiftProxy(description.root, config);
  const url = `http://127.0.0.1:${port}`;
  return {
    port,
    url,
    v1AuthUrl: `${url}/auth/v1.0`,
    keystoneStorageUrl: `${url}/v1/AUTH_${description.keystone.projectId}`,
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
