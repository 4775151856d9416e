// Starts the whole test object-storage server (memcached, Keystone, Swift backends, the proxy) in this process
// and describes it as plain JSON, so the description can be handed to other test processes in a file.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireCommand } from '../processes.js';
import type { ProxyConfig, SwiftPorts } from './config.js';
import { spawnDaemon, tcpAccepts, waitReady, type Daemon } from './daemons.js';
import { KEYSTONE_REGION, SERVICE_USER, keystoneToken, provisionKeystone, startKeystone } from './keystone.js';
import { startSwiftBackends, startSwiftProxy, swiftLayout } from './swift.js';

/**
 * What every Swift cluster of the tests offers (the full server, and the tempauth-only second one that
 * geo-replication tests use as another location); JSON-serializable.
 */
export interface SwiftClusterDescription {
  /** The scratch directory (logs of every daemon are there). */
  root: string;
  /** The proxy, e.g. http://127.0.0.1:41234 (no trailing slash). */
  proxyUrl: string;
  /**
   * Swift v1 auth (tempauth), on a proxy over the same backends whose pipeline has no Keystone (fast for
   * tempauth tokens); the full server's main proxy accepts the same tokens too.
   */
  v1: { authUrl: string; user: string; key: string; storageUrl: string; proxyUrl: string };
  /** s3api (path style, SigV4) with tempauth-backed credentials: access key `account:user`, the v1 key. */
  s3: { endpoint: string; region: string; tempauth: { accessKeyId: string; secretAccessKey: string } };
  /** The account-level X-Account-Meta-Temp-URL-Key of its accounts. */
  tempUrlKey: string;
  /** What a private proxy over the same backends is configured from. */
  proxyConfig: ProxyConfig;
}

/** Everything a test needs to talk to the full server (Keystone too); JSON-serializable. */
export interface ObjectStorageDescription extends SwiftClusterDescription {
  /** Keystone v3 password auth for a project member (an operator of its Swift account). */
  keystone: {
    authUrl: string;
    username: string;
    password: string;
    userId: string;
    projectName: string;
    projectId: string;
    userDomainName: string;
    projectDomainName: string;
    regionName: string;
    storageUrl: string;
    admin: { name: string; password: string; projectName: string };
  };
  /**
   * The s3api endpoint (path style, SigV4). The main credentials are the Keystone tester's EC2 credential,
   * checked by s3token; `tempauth` are tempauth-backed ones (access key `account:user`, the v1 key).
   */
  s3: {
    endpoint: string;
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
    tempauth: { accessKeyId: string; secretAccessKey: string };
  };
}

export interface RunningObjectStorage<D extends SwiftClusterDescription = ObjectStorageDescription> {
  description: D;
  stop(): Promise<void>;
}

const TEMP_URL_KEY = 'quayside-temp-url-key';
const TEMPAUTH = { account: 'test', user: 'tester', key: 'testing-v1-key', resellerPrefix: 'TEMPAUTH_' };

async function setAccountMeta(storageUrl: string, token: string, headers: Record<string, string>): Promise<void> {
  const response = await fetch(storageUrl, { method: 'POST', headers: { 'x-auth-token': token, ...headers } });
  await response.arrayBuffer();
  if (response.status !== 204) throw new Error(`POST ${storageUrl} (account metadata) answered ${response.status}`);
}

/** tempauth's v1 handshake: the storage URL and token of `user` with `key`. */
export async function v1Auth(authUrl: string, user: string, key: string): Promise<{ storageUrl: string; token: string }> {
  const response = await fetch(authUrl, { headers: { 'x-auth-user': user, 'x-auth-key': key } });
  await response.arrayBuffer();
  const storageUrl = response.headers.get('x-storage-url');
  const token = response.headers.get('x-auth-token');
  if (response.status !== 200 || storageUrl === null || token === null) throw new Error(`v1 auth at ${authUrl} answered ${response.status}`);
  return { storageUrl, token };
}

/**
 * Starts every daemon on fresh loopback ports under a new temporary directory; ~40-100 s on a cold machine.
 * `tokenCacheSeconds` sets the proxy's authtoken token_cache_time (config.ts; the benchmark varies it).
 */
export async function startObjectStorage(options: { tokenCacheSeconds?: number } = {}): Promise<RunningObjectStorage> {
  const memcachedBin = requireCommand('memcached', 'apt-get install memcached');
  const root = await mkdtemp(join(tmpdir(), 'quayside-object-storage-'));
  const daemons: Daemon[] = [];
  const stop = async () => {
    await Promise.all(daemons.reverse().map((daemon) => daemon.stop()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    const ports: SwiftPorts = {
      account: await freePort(),
      container: await freePort(),
      object: await freePort(),
      memcached: await freePort(),
      keystone: await freePort(),
    };
    const proxyPort = await freePort();
    const proxyUrl = `http://127.0.0.1:${proxyPort}`;
    const v1ProxyPort = await freePort();
    const v1ProxyUrl = `http://127.0.0.1:${v1ProxyPort}`;
    const memcached = spawnDaemon({
      name: 'memcached',
      command: memcachedBin,
      args: ['-l', '127.0.0.1', '-p', String(ports.memcached), '-U', '0', '-u', 'root', '-m', '64'],
      logFile: join(root, 'memcached.log'),
    });
    daemons.push(memcached);
    // Keystone's db_sync and Swift's rings are independent and each take a while: in parallel.
    const keystoneStarted = startKeystone(join(root, 'keystone'), ports.keystone).then((keystone) => {
      daemons.push(keystone.daemon);
      return keystone;
    });
    const backendsStarted = startSwiftBackends(root, ports).then((backends) => {
      daemons.push(...backends);
    });
    const [keystone] = await Promise.all([keystoneStarted, backendsStarted, waitReady(memcached, 'accept connections', () => tcpAccepts(ports.memcached))]);
    const proxyConfig: ProxyConfig = {
      port: proxyPort,
      ports,
      layout: swiftLayout(root),
      serviceUser: SERVICE_USER,
      tempauth: TEMPAUTH,
      ...(options.tokenCacheSeconds === undefined ? {} : { tokenCacheSeconds: options.tokenCacheSeconds }),
    };
    const [proxy, v1Proxy] = await Promise.all([
      startSwiftProxy(root, proxyConfig),
      startSwiftProxy(root, { ...proxyConfig, port: v1ProxyPort, auth: 'tempauth-only' }),
    ]);
    daemons.push(proxy, v1Proxy);

    const provisioned = await provisionKeystone(keystone, proxyUrl);
    const tester = provisioned.tester;
    const keystoneStorageUrl = `${proxyUrl}/v1/AUTH_${tester.projectId}`;
    const { token: keystoneToken_ } = await keystoneToken(keystone.authUrl, tester);
    await setAccountMeta(keystoneStorageUrl, keystoneToken_, { 'x-account-meta-temp-url-key': TEMP_URL_KEY });
    const v1User = `${TEMPAUTH.account}:${TEMPAUTH.user}`;
    const v1 = await v1Auth(`${v1ProxyUrl}/auth/v1.0`, v1User, TEMPAUTH.key);
    await setAccountMeta(v1.storageUrl, v1.token, { 'x-account-meta-temp-url-key': TEMP_URL_KEY });

    const description: ObjectStorageDescription = {
      root,
      proxyUrl,
      v1: { authUrl: `${v1ProxyUrl}/auth/v1.0`, user: v1User, key: TEMPAUTH.key, storageUrl: v1.storageUrl, proxyUrl: v1ProxyUrl },
      keystone: {
        authUrl: keystone.authUrl,
        username: tester.name,
        password: tester.password,
        userId: tester.id,
        projectName: tester.projectName,
        projectId: tester.projectId,
        userDomainName: 'Default',
        projectDomainName: 'Default',
        regionName: KEYSTONE_REGION,
        storageUrl: keystoneStorageUrl,
        admin: keystone.admin,
      },
      s3: {
        endpoint: proxyUrl,
        region: 'us-east-1',
        accessKeyId: provisioned.ec2.access,
        secretAccessKey: provisioned.ec2.secret,
        tempauth: { accessKeyId: v1User, secretAccessKey: TEMPAUTH.key },
      },
      tempUrlKey: TEMP_URL_KEY,
      proxyConfig,
    };
    return { description, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * A second, independent Swift cluster (its own memcached, rings, backends and proxy on fresh ports) with
 * tempauth only and s3api: no Keystone, so it is up in a fraction of the full server's cold start. The
 * geo-replication tests use it as the other location.
 */
export async function startTempauthSwift(): Promise<RunningObjectStorage<SwiftClusterDescription>> {
  const memcachedBin = requireCommand('memcached', 'apt-get install memcached');
  const root = await mkdtemp(join(tmpdir(), 'quayside-swift-second-'));
  const daemons: Daemon[] = [];
  const stop = async () => {
    await Promise.all(daemons.reverse().map((daemon) => daemon.stop()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    // No Keystone runs: its port is only written into filter sections the pipeline does not load.
    const ports: SwiftPorts = { account: await freePort(), container: await freePort(), object: await freePort(), memcached: await freePort(), keystone: 0 };
    const proxyPort = await freePort();
    const proxyUrl = `http://127.0.0.1:${proxyPort}`;
    const memcached = spawnDaemon({
      name: 'memcached',
      command: memcachedBin,
      args: ['-l', '127.0.0.1', '-p', String(ports.memcached), '-U', '0', '-u', 'root', '-m', '64'],
      logFile: join(root, 'memcached.log'),
    });
    daemons.push(memcached);
    const backends = startSwiftBackends(root, ports).then((started) => {
      daemons.push(...started);
    });
    await Promise.all([backends, waitReady(memcached, 'accept connections', () => tcpAccepts(ports.memcached))]);
    const proxyConfig: ProxyConfig = {
      port: proxyPort,
      ports,
      layout: swiftLayout(root),
      serviceUser: { name: 'unused', password: 'unused', project: 'unused' },
      tempauth: TEMPAUTH,
      auth: 'tempauth-only',
    };
    daemons.push(await startSwiftProxy(root, proxyConfig));
    const v1User = `${TEMPAUTH.account}:${TEMPAUTH.user}`;
    const authUrl = `${proxyUrl}/auth/v1.0`;
    const v1 = await v1Auth(authUrl, v1User, TEMPAUTH.key);
    await setAccountMeta(v1.storageUrl, v1.token, { 'x-account-meta-temp-url-key': TEMP_URL_KEY });
    const description: SwiftClusterDescription = {
      root,
      proxyUrl,
      v1: { authUrl, user: v1User, key: TEMPAUTH.key, storageUrl: v1.storageUrl, proxyUrl },
      s3: { endpoint: proxyUrl, region: 'us-east-1', tempauth: { accessKeyId: v1User, secretAccessKey: TEMPAUTH.key } },
      tempUrlKey: TEMP_URL_KEY,
      proxyConfig,
    };
    return { description, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
