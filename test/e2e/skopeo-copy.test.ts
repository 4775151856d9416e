// skopeo against a real `quayside serve`: images go in and come back out byte for byte.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  blobPath,
  buildMultiArchIndex,
  buildUmociImage,
  hashLayoutBlobs,
  http,
  MEDIA,
  readLayoutImage,
  sha256,
  type LayoutImage,
} from '../helpers/oci-images.js';
import { requireCommand, skopeo, startRegistryUnderTest, type RegistryServer } from '../helpers/processes.js';
import { authHeaders, skopeoLogin } from '../helpers/registry-auth.js';

interface ManifestJson {
  config: { digest: string };
  layers: { digest: string }[];
}

interface IndexJson {
  manifests: { digest: string; platform?: { architecture: string } }[];
}

describe('skopeo round trips through quayside', () => {
  let server: RegistryServer;
  let work: string;
  let image: LayoutImage;
  let multi: LayoutImage;

  before(async () => {
    requireCommand('skopeo', 'apt-get install skopeo');
    requireCommand('umoci', 'apt-get install umoci');
    work = await mkdtemp(join(tmpdir(), 'quayside-e2e-skopeo-'));
    server = await startRegistryUnderTest();
    await skopeoLogin(server, work);
    image = await buildUmociImage(join(work, 'src'), 'v1');
    multi = await buildMultiArchIndex(join(work, 'multi-src'), 'v1');
  });

  after(async () => {
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const ref = (path: string) => `docker://${server.hostPort}/${path}`;

  test('a multi-layer umoci image copies in and back out with identical manifest and blobs', async () => {
    const manifest = JSON.parse(image.manifestBytes.toString()) as ManifestJson;
    assert.ok(manifest.layers.length >= 3, `the test image should have at least 3 layers, has ${manifest.layers.length}`);

    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, ref('e2e/app:v1')]);
    await skopeo(['copy', '--src-tls-verify=false', ref('e2e/app:v1'), `oci:${join(work, 'out')}:v1`]);

    const copied = await readLayoutImage(join(work, 'out'), 'v1');
    assert.equal(copied.manifest.digest, image.manifest.digest, 'manifest digest changed on the way through');
    assert.ok(copied.manifestBytes.equals(image.manifestBytes), 'manifest bytes changed on the way through');

    const outHashes = await hashLayoutBlobs(join(work, 'out'));
    for (const digest of [manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)]) {
      const original = await readFile(blobPath(image.dir, digest));
      assert.equal(sha256(original), digest, `source blob ${digest} is corrupt (test setup)`);
      assert.equal(outHashes.get(digest), digest, `blob ${digest} missing or different after the round trip`);
    }
    for (const [name, actual] of outHashes) assert.equal(actual, name, `copied blob file ${name} holds other bytes`);
  });

  test('skopeo inspect --raw returns exactly the pushed manifest bytes', async () => {
    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', ref('e2e/app:v1')]);
    assert.equal(raw, image.manifestBytes.toString('utf8'));
    const byDigest = await http(`${server.url}/v2/e2e/app/manifests/${image.manifest.digest}`, {
      headers: { ...(await authHeaders(server, 'repository:e2e/app:pull')), accept: `${MEDIA.manifest}, ${MEDIA.index}` },
    });
    assert.equal(byDigest.status, 200);
    assert.ok(byDigest.body.equals(image.manifestBytes), 'GET by digest returned other bytes');
    assert.equal(byDigest.headers['docker-content-digest'], image.manifest.digest);
  });

  test('skopeo copy --all carries a two-platform index in and out', async () => {
    await skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${multi.dir}:v1`, ref('e2e/multi:v1')]);
    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', ref('e2e/multi:v1')]);
    assert.equal(raw, multi.manifestBytes.toString('utf8'), 'index bytes changed');

    const out = join(work, 'multi-out');
    await skopeo(['copy', '--all', '--src-tls-verify=false', ref('e2e/multi:v1'), `oci:${out}:v1`]);
    const copied = await readLayoutImage(out, 'v1');
    assert.equal(copied.manifest.digest, multi.manifest.digest);
    const index = JSON.parse(copied.manifestBytes.toString()) as IndexJson;
    assert.deepEqual(index.manifests.map((entry) => entry.platform?.architecture).sort(), ['amd64', 'arm64']);

    const outHashes = await hashLayoutBlobs(out);
    for (const platform of index.manifests) {
      assert.equal(outHashes.get(platform.digest), platform.digest, `platform manifest ${platform.digest} missing`);
      const child = JSON.parse((await readFile(blobPath(out, platform.digest))).toString()) as ManifestJson;
      for (const digest of [child.config.digest, ...child.layers.map((layer) => layer.digest)]) {
        assert.equal(outHashes.get(digest), digest, `blob ${digest} of ${platform.platform?.architecture} missing or different`);
      }
    }
  });

  test('skopeo list-tags lists every tag of a repository', async () => {
    await skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', ref('e2e/app:v1'), ref('e2e/app:v2')]);
    const listed = JSON.parse(await skopeo(['list-tags', '--tls-verify=false', ref('e2e/app')])) as { Tags: string[] };
    assert.deepEqual([...listed.Tags].sort(), ['v1', 'v2']);
  });

  test('skopeo delete removes a manifest and its tag; other repositories are untouched', async () => {
    await skopeo(['delete', '--tls-verify=false', ref('e2e/multi:v1')]);
    const auth = await authHeaders(server, 'repository:e2e/multi:pull');
    const gone = await http(`${server.url}/v2/e2e/multi/manifests/${multi.manifest.digest}`, {
      headers: { ...auth, accept: MEDIA.index },
    });
    assert.equal(gone.status, 404, 'the deleted index is still served by digest');
    const tag = await http(`${server.url}/v2/e2e/multi/manifests/v1`, { headers: { ...auth, accept: MEDIA.index } });
    assert.equal(tag.status, 404, 'the tag of the deleted index still resolves');
    const errors = JSON.parse(tag.body.toString()) as { errors?: { code: string }[] };
    assert.ok(errors.errors?.some((error) => error.code === 'MANIFEST_UNKNOWN'), `unexpected body ${tag.body.toString()}`);
    await assert.rejects(skopeo(['inspect', '--raw', '--tls-verify=false', ref('e2e/multi:v1')]), /manifest unknown|not found/i);

    const still = await skopeo(['inspect', '--raw', '--tls-verify=false', ref('e2e/app:v1')]);
    assert.equal(still, image.manifestBytes.toString('utf8'));
  });
});
