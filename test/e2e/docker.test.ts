// Debian's docker.io against the built server, through a private dockerd started by the test: login (a wrong
// password refused), build FROM scratch (no base image can be pulled here), push, pull back after removing
// the image, and a push of the same image to a second repository, which docker does as a cross-repository
// mount: the server's request log must show the layer mounted (201 on POST ?mount=) and never uploaded again.
// 127.0.0.0/8 is an insecure registry for docker by default, so plain HTTP needs no daemon setting.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { startPrivateDockerd, type PrivateDockerd } from '../helpers/dockerd.js';
import { http } from '../helpers/oci-images.js';
import { startQuayside, type RegistryServer } from '../helpers/processes.js';
import { authHeaders } from '../helpers/registry-auth.js';
import { blobWrites, loggedRequests } from '../helpers/request-log.js';

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

describe('docker: login, build, push, pull, cross-repository mount', () => {
  let server: RegistryServer;
  let daemon: PrivateDockerd;
  let work: string;
  const marker = randomBytes(8).toString('hex');
  const text = `hello from docker ${marker}\n`;
  let built = '';

  async function docker(args: string[], input?: string): Promise<string> {
    const result = await daemon.docker(args, { input });
    assert.equal(result.code, 0, `docker ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
    return result.stdout;
  }

  async function getManifest(repository: string, reference: string): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await http(`${server.url}/v2/${repository}/manifests/${reference}`, {
      headers: {
        accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
        ...(await authHeaders(server, `repository:${repository}:pull`)),
      },
    });
    return { status: response.status, json: response.status === 200 ? (JSON.parse(response.body.toString('utf8')) as Record<string, unknown>) : {} };
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'qs-docker-'));
    server = await startQuayside();
    daemon = await startPrivateDockerd();
  });

  after(async () => {
    await daemon?.stop();
    await server?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  test('docker login refuses a wrong password and accepts the right one', async () => {
    const credentials = server.credentials;
    assert.ok(credentials);
    const wrong = await daemon.docker(['login', '--username', credentials.username, '--password-stdin', server.hostPort], { input: 'not-the-password\n' });
    assert.notEqual(wrong.code, 0, 'a wrong password must not log in');
    const out = await docker(['login', '--username', credentials.username, '--password-stdin', server.hostPort], `${credentials.password}\n`);
    assert.match(out, /Login Succeeded/);
  });

  test('docker build and push, then pull back after removing the image', async () => {
    const ref = `${server.hostPort}/e2e/docker-app:v1`;
    const context = join(work, 'context');
    await mkdir(context);
    await writeFile(join(context, 'hello.txt'), text);
    await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    await docker(['build', '--quiet', '-t', ref, context]);
    built = (await docker(['image', 'inspect', '--format', '{{.Id}}', ref])).trim();
    assert.match(built, /^sha256:[0-9a-f]{64}$/);
    await docker(['push', ref]);

    const manifest = await getManifest('e2e/docker-app', 'v1');
    assert.equal(manifest.status, 200);
    assert.equal((manifest.json.config as Descriptor).digest, built, 'the pushed config is the image docker built');
    const [layer] = manifest.json.layers as Descriptor[];
    assert.ok(layer);
    const blob = await http(`${server.url}/v2/e2e/docker-app/blobs/${layer.digest}`, { headers: await authHeaders(server, 'repository:e2e/docker-app:pull') });
    assert.equal(blob.status, 200);
    const tar = blob.body[0] === 0x1f && blob.body[1] === 0x8b ? gunzipSync(blob.body) : blob.body;
    assert.ok(tar.toString('latin1').includes(text), 'the layer holds the copied file');

    await docker(['rmi', ref]);
    const gone = await daemon.docker(['image', 'inspect', ref]);
    assert.notEqual(gone.code, 0, 'the image is removed before the pull');
    await docker(['pull', ref]);
    assert.equal((await docker(['image', 'inspect', '--format', '{{.Id}}', ref])).trim(), built);
  });

  test('a push of the same image to another repository mounts its layer instead of uploading it', async () => {
    const source = await getManifest('e2e/docker-app', 'v1');
    const layers = (source.json.layers as Descriptor[]).map((l) => l.digest);
    const before = loggedRequests(server).length;
    const copy = `${server.hostPort}/e2e/docker-copy:v1`;
    await docker(['tag', `${server.hostPort}/e2e/docker-app:v1`, copy]);
    await docker(['push', copy]);

    const target = await getManifest('e2e/docker-copy', 'v1');
    assert.equal(target.status, 200);
    assert.equal((target.json.config as Descriptor).digest, built);
    assert.deepEqual((target.json.layers as Descriptor[]).map((l) => l.digest), layers);

    const writes = blobWrites(server, 'e2e/docker-copy');
    const newRequests = loggedRequests(server).slice(before);
    assert.ok(newRequests.length > 0, 'the server logged the push');
    for (const digest of layers) {
      const mountedHere = writes.mounted.filter((r) => new URL(r.url, 'http://x').searchParams.get('mount') === digest);
      assert.equal(mountedHere.length, 1, `layer ${digest} mounted once with 201:\n${JSON.stringify(writes, null, 1)}`);
      assert.equal(new URL(mountedHere[0]?.url ?? '', 'http://x').searchParams.get('from'), 'e2e/docker-app');
      const uploaded = writes.uploads.filter((r) => r.method === 'PUT' && new URL(r.url, 'http://x').searchParams.get('digest') === digest);
      assert.deepEqual(uploaded, [], `layer ${digest} must not be uploaded again`);
    }
  });
});
