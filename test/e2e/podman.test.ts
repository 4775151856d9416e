// Debian's podman against the built server: login, build (FROM scratch: no base image can be pulled here),
// push, pull back into empty storage, and a multi-arch manifest list pushed with `manifest push --all` then
// pulled for one platform.
// Podman runs as root without systemd, so every call names its own storage (vfs under a temp dir), the
// cgroupfs manager, the file events logger and chroot isolation for builds.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { http } from '../helpers/oci-images.js';
import { privatePodman } from '../helpers/podman.js';
import { requireCommand, run, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { authHeaders } from '../helpers/registry-auth.js';

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
}

describe('podman: login, build, push, pull, multi-arch manifest push --all', () => {
  let server: RegistryServer;
  let work: string;
  let podmanBin: string;
  let authFile: string;
  /** Unique per run, so nothing is found in a cache of an earlier run. */
  const marker = randomBytes(8).toString('hex');

  /** Runs podman on this test's own storage; fails with its output unless it exits 0. */
  const podman = (...args: string[]): Promise<string> => privatePodman(work).podman(...args);

  /** A build context whose Containerfile copies one small file into an empty image. */
  async function context(name: string, text: string): Promise<string> {
    const dir = join(work, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'hello.txt'), text);
    await writeFile(join(dir, 'Containerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    return dir;
  }

  async function getManifest(repository: string, reference: string): Promise<{ status: number; mediaType: string; json: Record<string, unknown> }> {
    const response = await http(`${server.url}/v2/${repository}/manifests/${reference}`, {
      headers: { accept: MANIFEST_TYPES, ...(await authHeaders(server, `repository:${repository}:pull`)) },
    });
    const text = response.body.toString('utf8');
    return { status: response.status, mediaType: String(response.headers['content-type']), json: response.status === 200 ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  /** The bytes of a layer as stored by the registry, uncompressed when gzipped. */
  async function layerText(repository: string, digest: string): Promise<string> {
    const response = await http(`${server.url}/v2/${repository}/blobs/${digest}`, { headers: await authHeaders(server, `repository:${repository}:pull`) });
    assert.equal(response.status, 200, `GET blob ${digest}: ${response.status}`);
    const bytes = response.body[0] === 0x1f && response.body[1] === 0x8b ? gunzipSync(response.body) : response.body;
    return bytes.toString('latin1');
  }

  before(async () => {
    podmanBin = requireCommand('podman', 'apt-get install podman');
    work = await mkdtemp(join(tmpdir(), 'qs-podman-'));
    authFile = join(work, 'auth.json');
    server = await startQuayside();
  });

  after(async () => {
    await server?.stop();
    if (work !== undefined) {
      // vfs layers are plain directories: removing the temp dir removes the storage.
      await rm(work, { recursive: true, force: true });
    }
  });

  test('podman login with the password on stdin', async () => {
    const credentials = server.credentials;
    assert.ok(credentials);
    const result = await run(podmanBin, ['login', '--tls-verify=false', '--authfile', authFile, '--username', credentials.username, '--password-stdin', server.hostPort], {
      input: `${credentials.password}\n`,
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Login Succeeded/);
    const wrong = await run(podmanBin, ['login', '--tls-verify=false', '--authfile', join(work, 'wrong.json'), '--username', credentials.username, '--password-stdin', server.hostPort], {
      input: 'not-the-password\n',
      timeoutMs: 60_000,
    });
    assert.notEqual(wrong.code, 0, 'a wrong password must not log in');
  });

  test('podman build, push, then pull into empty storage gives the same image', async () => {
    const ref = `${server.hostPort}/e2e/podman-app:v1`;
    const text = `hello from podman ${marker}\n`;
    await podman('build', '--isolation', 'chroot', '--quiet', '-t', ref, await context('app', text));
    const built = (await podman('image', 'inspect', '--format', '{{.Id}}', ref)).trim();
    await podman('push', '--tls-verify=false', '--authfile', authFile, ref);

    const manifest = await getManifest('e2e/podman-app', 'v1');
    assert.equal(manifest.status, 200);
    const config = manifest.json.config as Descriptor;
    assert.equal(config.digest, `sha256:${built}`, 'the pushed config is the image podman built');
    const layers = manifest.json.layers as Descriptor[];
    assert.equal(layers.length, 1);
    const [layer] = layers;
    assert.ok(layer);
    assert.ok((await layerText('e2e/podman-app', layer.digest)).includes(text), 'the layer holds the copied file');

    await podman('rmi', '--force', ref);
    assert.doesNotMatch(await podman('images', '--format', '{{.Id}}'), new RegExp(built.slice(0, 12)));
    await podman('pull', '--tls-verify=false', '--authfile', authFile, ref);
    assert.equal((await podman('image', 'inspect', '--format', '{{.Id}}', ref)).trim(), built);
  });

  test('podman manifest push --all sends a two-platform list and both images', async () => {
    const list = `${server.hostPort}/e2e/podman-multi:v1`;
    await podman('manifest', 'create', list);
    const images: Record<string, string> = {};
    for (const arch of ['amd64', 'arm64']) {
      const local = `localhost/podman-multi-${arch}:v1`;
      await podman('build', '--isolation', 'chroot', '--quiet', '--platform', `linux/${arch}`, '-t', local, await context(`multi-${arch}`, `${arch} ${marker}\n`));
      images[arch] = (await podman('image', 'inspect', '--format', '{{.Id}}', local)).trim();
      await podman('manifest', 'add', list, `containers-storage:${local}`);
    }
    await podman('manifest', 'push', '--all', '--tls-verify=false', '--authfile', authFile, list, `docker://${list}`);

    const index = await getManifest('e2e/podman-multi', 'v1');
    assert.equal(index.status, 200);
    assert.match(index.mediaType, /manifest\.list\.v2\+json|image\.index\.v1\+json/);
    const entries = index.json.manifests as Descriptor[];
    assert.deepEqual(entries.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).sort(), ['linux/amd64', 'linux/arm64']);
    for (const entry of entries) {
      const child = await getManifest('e2e/podman-multi', entry.digest);
      assert.equal(child.status, 200, `the ${entry.platform?.architecture} image was pushed too (--all)`);
      const arch = entry.platform?.architecture ?? '';
      assert.equal((child.json.config as Descriptor).digest, `sha256:${images[arch]}`);
      const [layer] = child.json.layers as Descriptor[];
      assert.ok(layer);
      assert.ok((await layerText('e2e/podman-multi', layer.digest)).includes(`${arch} ${marker}`));
    }

    // A pull of the list picks the image of the asked platform.
    await podman('rmi', '--force', 'localhost/podman-multi-arm64:v1');
    await podman('pull', '--tls-verify=false', '--authfile', authFile, '--arch', 'arm64', list);
    assert.equal((await podman('image', 'inspect', '--format', '{{.Id}} {{.Architecture}}', list)).trim(), `${images.arm64} arm64`);
  });

  // podman's login token carries no scope; the catalog behind `podman search` once refused it with 403.
  test('podman search while logged in lists the repositories pushed above', async () => {
    const found = await podman('search', '--tls-verify=false', '--authfile', authFile, '--format', '{{.Name}}', `${server.hostPort}/`);
    const names = found.split('\n').map((line) => line.trim()).filter((line) => line !== '');
    assert.ok(names.includes(`${server.hostPort}/e2e/podman-app`), `podman search found:\n${found}`);
  });
});
