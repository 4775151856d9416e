// `quayside serve` on real object storage: S3Storage on Swift's s3api endpoint and SwiftStorage through
// Keystone v3, two instances on one PostgreSQL database each. skopeo pushes and pulls a three-layer image byte
// for byte (blob GETs answer 307 to a presigned S3 URL or a Swift temp URL, which skopeo follows); a chunked
// upload alternates its chunks between the two instances; `quayside storage validate` writes Quay's _verify
// marker, read back raw; podman and docker pull the same image through the redirect; and a Swift proxy stopped mid-test gives clients 503s with an OCI body until it is back,
// with no restart of quayside.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { objectStorage, randomName, type ObjectStorageServers, type PrivateProxy } from '../helpers/object-storage/index.js';
import { blobPath, buildUmociImage, hashLayoutBlobs, readLayoutImage, type LayoutImage } from '../helpers/oci-images.js';
import { startPrivateDockerd, type PrivateDockerd } from '../helpers/dockerd.js';
import { privatePodman } from '../helpers/podman.js';
import { E2E_USER, quaysideCli, requireCommand, run, skopeo, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { authHeaders, pushScope, skopeoLogin } from '../helpers/registry-auth.js';
import { waitUntil } from '../helpers/wait.js';

const MiB = 1024 * 1024;

interface Backend {
  /** The DISTRIBUTED_STORAGE_CONFIG entry of the location, as YAML flow text. */
  location: string;
  /** The raw bytes of an object under the location's storage_path, read around quayside. */
  readRaw(key: string): Promise<Buffer>;
  /** Keys under the location's storage_path (to prove that aborted/committed uploads leave no parts behind). */
  listKeys(prefix: string): Promise<string[]>;
  /** The host a blob GET's redirect must point at. */
  redirectHost: string;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function s3Backend(servers: ObjectStorageServers): Promise<Backend> {
  const bucket = randomName('e2e-s3');
  const client = new S3Client({
    endpoint: servers.s3.endpoint,
    region: servers.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: servers.s3.accessKeyId, secretAccessKey: servers.s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const endpoint = new URL(servers.s3.endpoint);
  const params = {
    s3_bucket: bucket,
    storage_path: '/registry',
    s3_access_key: servers.s3.accessKeyId,
    s3_secret_key: servers.s3.secretAccessKey,
    s3_region: servers.s3.region,
    endpoint_url: servers.s3.endpoint,
  };
  return {
    location: `[S3Storage, ${JSON.stringify(params)}]`,
    redirectHost: endpoint.host,
    async readRaw(key) {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `registry/${key}` }));
      return Buffer.from(await object.Body!.transformToByteArray());
    },
    async listKeys(prefix) {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `registry/${prefix}` }));
      return (listed.Contents ?? []).map((entry) => entry.Key!.slice('registry/'.length));
    },
  };
}

/** SwiftStorage through Keystone v3; `proxy` (when given) is the storage URL quayside must use. */
async function swiftBackend(servers: ObjectStorageServers, proxy?: PrivateProxy): Promise<Backend> {
  const container = randomName('e2e-swift');
  const { keystone } = servers;
  const storageUrl = proxy?.keystoneStorageUrl ?? keystone.storageUrl;
  // The container lives in the Keystone project's account; a Keystone token of the tester creates it.
  const keystoneToken = await keystoneTokenOf(servers);
  const created = await fetch(`${keystone.storageUrl}/${container}`, { method: 'PUT', headers: { 'x-auth-token': keystoneToken } });
  await created.arrayBuffer();
  assert.ok(created.status === 201 || created.status === 202, `container PUT answered ${created.status}`);
  const params = {
    auth_url: keystone.authUrl,
    auth_version: 3,
    swift_user: keystone.username,
    swift_password: keystone.password,
    swift_container: container,
    storage_path: '/registry',
    temp_url_key: servers.tempUrlKey,
    connect_timeout: 2,
    retry_count: 1,
    os_options: {
      project_name: keystone.projectName,
      user_domain_name: keystone.userDomainName,
      project_domain_name: keystone.projectDomainName,
      region_name: keystone.regionName,
      ...(proxy === undefined ? {} : { object_storage_url: storageUrl }),
    },
  };
  const listing = async (prefix: string) => {
    const response = await fetch(`${keystone.storageUrl}/${container}?format=json&prefix=${encodeURIComponent(`registry/${prefix}`)}`, {
      headers: { 'x-auth-token': await keystoneTokenOf(servers) },
    });
    if (response.status === 204) return [];
    return ((await response.json()) as { name: string }[]).map((entry) => entry.name.slice('registry/'.length));
  };
  return {
    location: `[SwiftStorage, ${JSON.stringify(params)}]`,
    redirectHost: new URL(storageUrl).host,
    async readRaw(key) {
      const response = await fetch(`${keystone.storageUrl}/${container}/registry/${key}`, { headers: { 'x-auth-token': await keystoneTokenOf(servers) } });
      assert.equal(response.status, 200, `raw GET of ${key} answered ${response.status}`);
      return Buffer.from(await response.arrayBuffer());
    },
    listKeys: listing,
  };
}

async function keystoneTokenOf(servers: ObjectStorageServers): Promise<string> {
  const { keystone } = servers;
  const response = await fetch(`${keystone.authUrl.replace(/\/$/, '')}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: keystone.username, domain: { name: keystone.userDomainName }, password: keystone.password } } },
        scope: { project: { name: keystone.projectName, domain: { name: keystone.projectDomainName } } },
      },
    }),
  });
  await response.arrayBuffer();
  const token = response.headers.get('x-subject-token');
  assert.ok(response.status === 201 && token !== null, `keystone answered ${response.status}`);
  return token;
}

async function writeConfig(dir: string, database: FreshDatabase, location: string, extra: string[] = []): Promise<string> {
  const file = join(dir, 'config.yaml');
  await writeFile(
    file,
    [`DB_URI: ${database.uri}`, 'DISTRIBUTED_STORAGE_CONFIG:', `  objects: ${location}`, 'DISTRIBUTED_STORAGE_PREFERENCE: [objects]', ...extra, ''].join('\n'),
  );
  return file;
}

/** POST, then PATCH chunks alternating between the instances, then PUT on the last one; returns the digest. */
async function alternatingUpload(instances: RegistryServer[], repository: string, chunks: Buffer[]): Promise<string> {
  const whole = Buffer.concat(chunks);
  const digest = sha256(whole);
  const headersOf = (server: RegistryServer) => authHeaders(server, pushScope(repository));
  const start = await fetch(`${instances[0]!.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: await headersOf(instances[0]!) });
  await start.arrayBuffer();
  assert.equal(start.status, 202);
  let location = start.headers.get('location')!;
  let offset = 0;
  for (const [index, chunk] of chunks.entries()) {
    const server = instances[index % instances.length]!;
    const response = await fetch(new URL(location, server.url), {
      method: 'PATCH',
      headers: { ...(await headersOf(server)), 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}` },
      body: new Uint8Array(chunk),
    });
    const text = await response.text();
    assert.equal(response.status, 202, `chunk ${index} on instance ${index % instances.length}: ${response.status} ${text}`);
    offset += chunk.length;
    assert.equal(response.headers.get('range'), `0-${offset - 1}`);
    location = response.headers.get('location')!;
  }
  const last = instances[chunks.length % instances.length]!;
  const committed = await fetch(new URL(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, last.url), { method: 'PUT', headers: await headersOf(last) });
  assert.equal(committed.status, 201, await committed.text());
  return digest;
}

// One Docker daemon for both drivers' describes: it takes seconds to start, and each pull names its own registry.
let dockerd: Promise<PrivateDockerd> | undefined;
function sharedDockerd(): Promise<PrivateDockerd> {
  dockerd ??= startPrivateDockerd();
  return dockerd;
}
after(async () => {
  if (dockerd !== undefined) await (await dockerd).stop();
});

for (const driver of ['S3Storage', 'SwiftStorage'] as const) {
  describe(`quayside serve on ${driver}`, { timeout: 600_000 }, () => {
    let servers: ObjectStorageServers;
    let backend: Backend;
    let database: FreshDatabase;
    let work: string;
    let config: string;
    const instances: RegistryServer[] = [];
    let image: LayoutImage;

    before(async () => {
      requireCommand('skopeo', 'apt-get install skopeo');
      requireCommand('umoci', 'apt-get install umoci');
      servers = await objectStorage();
      backend = driver === 'S3Storage' ? await s3Backend(servers) : await swiftBackend(servers);
      work = await mkdtemp(join(tmpdir(), `quayside-e2e-${driver.toLowerCase()}-`));
      database = await freshDatabase('postgres');
      config = await writeConfig(work, database, backend.location);
      instances.push(await startQuayside({ config, dataDir: join(work, 'one') }));
      // The second instance shares the database, so the first one's user is its user too.
      instances.push({ ...(await startQuayside({ config, dataDir: join(work, 'two'), user: false })), credentials: E2E_USER });
      for (const instance of instances) await skopeoLogin(instance, work);
      image = await buildUmociImage(join(work, 'image'), 'v1', 3 * MiB);
    });

    after(async () => {
      for (const instance of instances) await instance.stop();
      await database?.drop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    test('quayside storage validate writes Quay\'s _verify marker, read back around quayside', async () => {
      const result = await run(process.execPath, [quaysideCli(), 'storage', 'validate', '--config', config], { timeoutMs: 60_000 });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /objects.*ok/);
      assert.equal((await backend.readRaw('_verify')).toString(), 'testing 123');
    });

    test('skopeo pushes a three-layer image and pulls it back byte for byte through the redirect', async () => {
      const [first, second] = instances as [RegistryServer, RegistryServer];
      await skopeo(['copy', '--dest-tls-verify=false', `oci:${join(work, 'image')}:v1`, `docker://${first.hostPort}/${E2E_USER.username}/layers:v1`], 300_000);
      // Pulled from the other instance: nothing of the push is held in the first one's memory or disk.
      await skopeo(['copy', '--src-tls-verify=false', `docker://${second.hostPort}/${E2E_USER.username}/layers:v1`, `oci:${join(work, 'pulled')}:v1`], 300_000);
      const pulled = await readLayoutImage(join(work, 'pulled'), 'v1');
      assert.equal(pulled.manifest.digest, image.manifest.digest);
      assert.deepEqual(pulled.manifestBytes, image.manifestBytes);
      for (const [digest, actual] of await hashLayoutBlobs(join(work, 'pulled'))) assert.equal(actual, digest);
      const layers = (JSON.parse(image.manifestBytes.toString()) as { layers: { digest: string }[] }).layers;
      assert.equal(layers.length, 3);
      for (const layer of layers) {
        assert.deepEqual(await readFile(blobPath(join(work, 'pulled'), layer.digest)), await readFile(blobPath(join(work, 'image'), layer.digest)));
      }
      // The blob GET that skopeo followed is a redirect to the storage, not bytes streamed by quayside.
      const repository = `${E2E_USER.username}/layers`;
      const layer = (JSON.parse(image.manifestBytes.toString()) as { layers: { digest: string }[] }).layers[0]!.digest;
      const response = await fetch(`${second.url}/v2/${repository}/blobs/${layer}`, { headers: await authHeaders(second, `repository:${repository}:pull`), redirect: 'manual' });
      await response.arrayBuffer();
      assert.equal(response.status, 307);
      assert.equal(new URL(response.headers.get('location')!).host, backend.redirectHost);
    });

    test('podman and docker pull the image through the redirect: the image they verified is the one pushed', async () => {
      const second = instances[1]!;
      const ref = `${second.hostPort}/${E2E_USER.username}/layers:v1`;
      // Both clients check every blob against its digest and the layers against the config's diff_ids, so
      // the image ID they report (the config's digest) proves every byte that came through the redirect.
      const configDigest = (JSON.parse(image.manifestBytes.toString()) as { config: { digest: string } }).config.digest;
      const podman = privatePodman(join(work, 'podman'));
      await podman.login(second.hostPort, E2E_USER);
      await podman.podman('pull', ...podman.registryFlags, ref);
      assert.equal(`sha256:${(await podman.podman('image', 'inspect', '--format', '{{.Id}}', ref)).trim()}`, configDigest);

      const daemon = await sharedDockerd();
      const login = await daemon.docker(['login', '--username', E2E_USER.username, '--password-stdin', second.hostPort], { input: `${E2E_USER.password}\n` });
      assert.equal(login.code, 0, login.stderr);
      const pulled = await daemon.docker(['pull', ref]);
      assert.equal(pulled.code, 0, `docker pull exited ${pulled.code}:\n${pulled.stderr}`);
      const inspected = await daemon.docker(['image', 'inspect', '--format', '{{.Id}} {{json .RepoDigests}}', ref]);
      assert.equal(inspected.code, 0, inspected.stderr);
      const [id, repoDigests] = inspected.stdout.trim().split(' ', 2) as [string, string];
      assert.equal(id, configDigest);
      assert.deepEqual(JSON.parse(repoDigests), [`${second.hostPort}/${E2E_USER.username}/layers@${image.manifest.digest}`]);
    });

    test('a chunked upload whose chunks alternate between two instances completes with the right digest', async () => {
      const repository = `${E2E_USER.username}/chunked`;
      // 6 MiB, 1 MiB (smaller than S3's part minimum), 7 MiB, 2 MiB: any instance takes any chunk.
      const chunks = [randomBytes(6 * MiB), randomBytes(1 * MiB), randomBytes(7 * MiB), randomBytes(2 * MiB)];
      const digest = await alternatingUpload(instances, repository, chunks);
      const response = await fetch(`${instances[1]!.url}/v2/${repository}/blobs/${digest}`, { headers: await authHeaders(instances[1]!, `repository:${repository}:pull`) });
      const bytes = Buffer.from(await response.arrayBuffer());
      assert.equal(response.status, 200);
      assert.equal(sha256(bytes), digest);
      assert.deepEqual(await backend.listKeys('uploads/'), [], 'a committed upload leaves no temporary objects');
      if (driver === 'SwiftStorage') {
        // serve attached the fleet's token cache (docs/storage-swift.md): one sealed token for both instances.
        const rows = await database.database.db.selectFrom('swift_auth_token').select(['sealed', 'expires_at']).execute();
        assert.equal(rows.length, 1, 'one shared token row');
        assert.ok(rows[0]!.expires_at !== null, 'Keystone v3 said when it expires');
      }
    });
  });
}

describe('a Swift outage mid-test', { timeout: 600_000 }, () => {
  let servers: ObjectStorageServers;
  let proxy: PrivateProxy;
  let database: FreshDatabase;
  let work: string;
  let instance: RegistryServer;

  before(async () => {
    servers = await objectStorage();
    proxy = await servers.startPrivateProxy();
    const backend = await swiftBackend(servers, proxy);
    work = await mkdtemp(join(tmpdir(), 'quayside-e2e-swift-outage-'));
    database = await freshDatabase('postgres');
    // Quayside streams blobs itself here, so that pulls touch the storage too.
    const config = await writeConfig(work, database, backend.location, ['FEATURE_PROXY_STORAGE: true']);
    instance = await startQuayside({ config, dataDir: join(work, 'one') });
  });

  after(async () => {
    await instance?.stop();
    if (proxy?.running() === false) await proxy.start().catch(() => undefined);
    await proxy?.stop();
    await database?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('clients get 503 with an OCI error body while the proxy is down, and service resumes by itself', async () => {
    const repository = `${E2E_USER.username}/outage`;
    const blob = randomBytes(256 * 1024);
    const digest = sha256(blob);
    const headers = await authHeaders(instance, pushScope(repository));
    const push = (bytes: Buffer) =>
      fetch(`${instance.url}/v2/${repository}/blobs/uploads/?digest=${sha256(bytes)}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/octet-stream' },
        body: new Uint8Array(bytes),
      });
    const before = await push(blob);
    assert.equal(before.status, 201, await before.text());

    await proxy.stop();
    const during = await push(randomBytes(1024));
    const body = (await during.json()) as { errors: { code: string; message: string }[] };
    assert.equal(during.status, 503);
    assert.equal(body.errors[0]?.code, 'UNAVAILABLE');
    assert.doesNotMatch(JSON.stringify(body), /127\.0\.0\.1|ECONNREFUSED|at .*\.js/);
    const pull = await fetch(`${instance.url}/v2/${repository}/blobs/${digest}`, { headers });
    await pull.arrayBuffer();
    assert.equal(pull.status, 503);

    await proxy.start();
    const back = await waitUntil('quayside serves blobs again', async () => {
      const response = await fetch(`${instance.url}/v2/${repository}/blobs/${digest}`, { headers });
      const bytes = Buffer.from(await response.arrayBuffer());
      return response.status === 200 ? bytes : undefined;
    }, 60_000, 200);
    assert.deepEqual(back, blob);
    const after = await push(randomBytes(2048));
    assert.equal(after.status, 201, await after.text());
  });
});
