import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';
import {
  DIALECTS,
  DOCKER_MANIFEST,
  OCI_INDEX,
  OCI_MANIFEST,
  descriptorOf,
  firstError,
  imageManifest,
  indexManifest,
  putManifest,
  seedBlob,
  seededImage,
  sha256,
  OCI_CONFIG,
  OCI_LAYER,
} from './manifest-fixtures.js';

for (const dialect of DIALECTS) {
  describe(`manifests on ${dialect}`, () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await startTestRegistry({ dialect });
    });
    after(async () => {
      await reg?.close();
    });

    it('stores a manifest pushed by tag and serves the exact bytes by tag and by digest', async () => {
      const image = await seededImage(reg.metadata, 'acme/app');
      const put = await putManifest(reg.url, 'acme/app', 'v1', image.bytes);
      assert.equal(put.status, 201);
      assert.equal(put.headers.get('docker-content-digest'), image.digest);
      assert.equal(put.headers.get('location'), `/v2/acme/app/manifests/${image.digest}`);
      assert.equal(put.headers.get('docker-distribution-api-version'), 'registry/2.0');
      assert.equal(put.headers.get('oci-subject'), null);

      for (const reference of ['v1', image.digest]) {
        const get = await fetch(`${reg.url}/v2/acme/app/manifests/${reference}`);
        assert.equal(get.status, 200);
        assert.equal(get.headers.get('content-type'), OCI_MANIFEST);
        assert.equal(get.headers.get('docker-content-digest'), image.digest);
        const body = Buffer.from(await get.arrayBuffer());
        assert.ok(body.equals(image.bytes), 'bytes differ from what was pushed');
      }
    });

    it('answers HEAD with the headers of GET and no body', async () => {
      const image = await seededImage(reg.metadata, 'acme/head');
      assert.equal((await putManifest(reg.url, 'acme/head', 'latest', image.bytes)).status, 201);
      const head = await fetch(`${reg.url}/v2/acme/head/manifests/latest`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(image.bytes.length));
      assert.equal(head.headers.get('docker-content-digest'), image.digest);
      assert.equal(head.headers.get('content-type'), OCI_MANIFEST);
      assert.equal((await head.arrayBuffer()).byteLength, 0);
      const missing = await fetch(`${reg.url}/v2/acme/head/manifests/nope`, { method: 'HEAD' });
      assert.equal(missing.status, 404);
    });

    it('accepts a PUT by digest only when the digest matches the body', async () => {
      const image = await seededImage(reg.metadata, 'acme/bydigest');
      const wrong = sha256(Buffer.from('something else'));
      const bad = await putManifest(reg.url, 'acme/bydigest', wrong, image.bytes);
      assert.equal(bad.status, 400);
      assert.equal((await firstError(bad)).code, 'DIGEST_INVALID');
      const gone = await fetch(`${reg.url}/v2/acme/bydigest/manifests/${wrong}`);
      assert.equal(gone.status, 404);

      const good = await putManifest(reg.url, 'acme/bydigest', image.digest, image.bytes);
      assert.equal(good.status, 201);
      assert.equal(good.headers.get('docker-content-digest'), image.digest);
      const get = await fetch(`${reg.url}/v2/acme/bydigest/manifests/${image.digest}`);
      assert.equal(get.status, 200);
      await get.arrayBuffer();
    });

    it('tags several at once with ?tag= and validates every tag before writing', async () => {
      const image = await seededImage(reg.metadata, 'acme/multi');
      const bad = await fetch(`${reg.url}/v2/acme/multi/manifests/${image.digest}?tag=good&tag=-bad`, {
        method: 'PUT',
        headers: { 'content-type': OCI_MANIFEST },
        body: Uint8Array.from(image.bytes),
      });
      assert.equal(bad.status, 400);
      assert.equal((await firstError(bad)).code, 'MANIFEST_INVALID');
      const notTagged = await fetch(`${reg.url}/v2/acme/multi/manifests/good`);
      assert.equal(notTagged.status, 404);
      await notTagged.arrayBuffer();

      const put = await fetch(`${reg.url}/v2/acme/multi/manifests/${image.digest}?tag=a&tag=b&tag=c`, {
        method: 'PUT',
        headers: { 'content-type': OCI_MANIFEST },
        body: Uint8Array.from(image.bytes),
      });
      assert.equal(put.status, 201);
      for (const tag of ['a', 'b', 'c']) {
        const get = await fetch(`${reg.url}/v2/acme/multi/manifests/${tag}`);
        assert.equal(get.status, 200, `tag ${tag}`);
        assert.equal(get.headers.get('docker-content-digest'), image.digest);
        await get.arrayBuffer();
      }
    });

    it('refuses a manifest whose blobs are not linked in the repository', async () => {
      const image = await seededImage(reg.metadata, 'acme/source');
      // Known to the registry (linked elsewhere) is not enough: a repository sees only its own blobs.
      const put = await putManifest(reg.url, 'acme/other', 'v1', image.bytes);
      assert.equal(put.status, 400);
      const error = await firstError(put);
      assert.equal(error.code, 'MANIFEST_BLOB_UNKNOWN');
      assert.deepEqual(error.detail, { digest: image.config.digest });
      assert.equal(await reg.metadata.repositories.getRepository('acme/other'), undefined, 'repository created by a failed push');

      await seedBlob(reg.metadata, 'acme/partial', Buffer.from(JSON.stringify({ only: 'config' })));
      const configBytes = Buffer.from(JSON.stringify({ only: 'config' }));
      const layerBytes = randomBytes(32);
      const partial = imageManifest({ config: descriptorOf(OCI_CONFIG, configBytes), layers: [descriptorOf(OCI_LAYER, layerBytes)] });
      const res = await putManifest(reg.url, 'acme/partial', 'v1', partial);
      assert.equal(res.status, 400);
      assert.deepEqual((await firstError(res)).detail, { digest: sha256(layerBytes) });
    });

    it('refuses an index whose children are missing, and accepts it once they exist', async () => {
      const child = await seededImage(reg.metadata, 'acme/index');
      const index = indexManifest([
        { ...descriptorOf(OCI_MANIFEST, child.bytes), platform: { architecture: 'amd64', os: 'linux' } },
      ]);
      const early = await putManifest(reg.url, 'acme/index', 'multi', index, OCI_INDEX);
      assert.equal(early.status, 400);
      const error = await firstError(early);
      assert.equal(error.code, 'MANIFEST_BLOB_UNKNOWN');
      assert.deepEqual(error.detail, { digest: child.digest });

      assert.equal((await putManifest(reg.url, 'acme/index', child.digest, child.bytes)).status, 201);
      const late = await putManifest(reg.url, 'acme/index', 'multi', index, OCI_INDEX);
      assert.equal(late.status, 201);
      const get = await fetch(`${reg.url}/v2/acme/index/manifests/multi`);
      assert.equal(get.headers.get('content-type'), OCI_INDEX);
      assert.ok(Buffer.from(await get.arrayBuffer()).equals(index));
    });

    it('negotiates on Accept: listed types only, anything for no Accept or */*', async () => {
      const image = await seededImage(reg.metadata, 'acme/accept');
      assert.equal((await putManifest(reg.url, 'acme/accept', 'v1', image.bytes)).status, 201);
      const url = `${reg.url}/v2/acme/accept/manifests/v1`;

      const dockerOnly = await fetch(url, { headers: { accept: DOCKER_MANIFEST } });
      assert.equal(dockerOnly.status, 404);
      assert.equal((await firstError(dockerOnly)).code, 'MANIFEST_UNKNOWN');

      const cases: Array<Record<string, string>> = [
        {},
        { accept: '*/*' },
        { accept: `${DOCKER_MANIFEST}, ${OCI_MANIFEST};q=0.9` },
        { accept: 'application/*' },
      ];
      for (const headers of cases) {
        const res = await fetch(url, { headers });
        assert.equal(res.status, 200, JSON.stringify(headers));
        assert.ok(Buffer.from(await res.arrayBuffer()).equals(image.bytes));
      }
      const refused = await fetch(url, { headers: { accept: `${OCI_MANIFEST};q=0, ${DOCKER_MANIFEST}` } });
      assert.equal(refused.status, 404);
      await refused.arrayBuffer();
    });

    it('serves Docker schema 2 manifests with their own media type', async () => {
      const image = await seededImage(reg.metadata, 'acme/docker', {
        mediaType: DOCKER_MANIFEST,
        configMediaType: 'application/vnd.docker.container.image.v1+json',
      });
      assert.equal((await putManifest(reg.url, 'acme/docker', 'v1', image.bytes, DOCKER_MANIFEST)).status, 201);
      const get = await fetch(`${reg.url}/v2/acme/docker/manifests/v1`, { headers: { accept: DOCKER_MANIFEST } });
      assert.equal(get.status, 200);
      assert.equal(get.headers.get('content-type'), DOCKER_MANIFEST);
      await get.arrayBuffer();
    });

    it('distinguishes an unknown repository, tag and digest', async () => {
      const noRepo = await fetch(`${reg.url}/v2/acme/nothing-here/manifests/latest`);
      assert.equal(noRepo.status, 404);
      assert.equal((await firstError(noRepo)).code, 'NAME_UNKNOWN');

      const image = await seededImage(reg.metadata, 'acme/known');
      assert.equal((await putManifest(reg.url, 'acme/known', 'v1', image.bytes)).status, 201);
      const noTag = await fetch(`${reg.url}/v2/acme/known/manifests/v2`);
      assert.equal(noTag.status, 404);
      assert.equal((await firstError(noTag)).code, 'MANIFEST_UNKNOWN');
      const noDigest = await fetch(`${reg.url}/v2/acme/known/manifests/${sha256(Buffer.from('x'))}`);
      assert.equal(noDigest.status, 404);
      assert.equal((await firstError(noDigest)).code, 'MANIFEST_UNKNOWN');
    });

    it('moves a tag to the newest manifest pushed under it', async () => {
      const first = await seededImage(reg.metadata, 'acme/move');
      const second = await seededImage(reg.metadata, 'acme/move');
      assert.equal((await putManifest(reg.url, 'acme/move', 'latest', first.bytes)).status, 201);
      assert.equal((await putManifest(reg.url, 'acme/move', 'latest', second.bytes)).status, 201);
      const get = await fetch(`${reg.url}/v2/acme/move/manifests/latest`);
      assert.equal(get.headers.get('docker-content-digest'), second.digest);
      await get.arrayBuffer();
      const old = await fetch(`${reg.url}/v2/acme/move/manifests/${first.digest}`);
      assert.equal(old.status, 200, 'the untagged manifest stays reachable by digest');
      await old.arrayBuffer();
    });

    it('deletes a tag alone, or a manifest with its tags', async () => {
      const image = await seededImage(reg.metadata, 'acme/delete');
      assert.equal((await putManifest(reg.url, 'acme/delete', 'one', image.bytes)).status, 201);
      assert.equal((await putManifest(reg.url, 'acme/delete', 'two', image.bytes)).status, 201);

      const delTag = await fetch(`${reg.url}/v2/acme/delete/manifests/one`, { method: 'DELETE' });
      assert.equal(delTag.status, 202);
      assert.equal((await fetch(`${reg.url}/v2/acme/delete/manifests/one`)).status, 404);
      const byDigest = await fetch(`${reg.url}/v2/acme/delete/manifests/${image.digest}`);
      assert.equal(byDigest.status, 200);
      await byDigest.arrayBuffer();

      const delManifest = await fetch(`${reg.url}/v2/acme/delete/manifests/${image.digest}`, { method: 'DELETE' });
      assert.equal(delManifest.status, 202);
      assert.equal((await fetch(`${reg.url}/v2/acme/delete/manifests/${image.digest}`)).status, 404);
      assert.equal((await fetch(`${reg.url}/v2/acme/delete/manifests/two`)).status, 404, 'tag outlived its manifest');

      const again = await fetch(`${reg.url}/v2/acme/delete/manifests/${image.digest}`, { method: 'DELETE' });
      assert.equal(again.status, 404);
      assert.equal((await firstError(again)).code, 'MANIFEST_UNKNOWN');
      const noRepo = await fetch(`${reg.url}/v2/acme/never/manifests/latest`, { method: 'DELETE' });
      assert.equal((await firstError(noRepo)).code, 'NAME_UNKNOWN');
    });

    it('lets concurrent pushes of the same manifest and tag all succeed', async () => {
      const image = await seededImage(reg.metadata, 'acme/race');
      const results = await Promise.all(
        Array.from({ length: 8 }, () => putManifest(reg.url, 'acme/race', 'latest', image.bytes)),
      );
      for (const res of results) {
        assert.equal(res.status, 201, `concurrent PUT answered ${res.status}: ${await res.text()}`);
        assert.equal(res.headers.get('docker-content-digest'), image.digest);
      }
      const get = await fetch(`${reg.url}/v2/acme/race/manifests/latest`);
      assert.equal(get.headers.get('docker-content-digest'), image.digest);
      await get.arrayBuffer();
      const tags = (await (await fetch(`${reg.url}/v2/acme/race/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, ['latest']);
    });

    it('creates the repository on the first push of an empty index', async () => {
      const index = indexManifest([]);
      const put = await putManifest(reg.url, 'fresh/empty-index', 'v1', index, OCI_INDEX);
      assert.equal(put.status, 201);
      assert.notEqual(await reg.metadata.repositories.getRepository('fresh/empty-index'), undefined);
    });

    it('answers OCI-Subject for a manifest with a subject', async () => {
      const subject = await seededImage(reg.metadata, 'acme/subject');
      const referrer = await seededImage(reg.metadata, 'acme/subject', {
        artifactType: 'application/vnd.example.sbom',
        subject: descriptorOf(OCI_MANIFEST, subject.bytes),
      });
      // The subject does not have to exist yet.
      const put = await putManifest(reg.url, 'acme/subject', referrer.digest, referrer.bytes);
      assert.equal(put.status, 201);
      assert.equal(put.headers.get('oci-subject'), subject.digest);
    });

    it('refuses a manifest over the size limit while reading it', async () => {
      const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
      const res = await putManifest(reg.url, 'acme/big', 'v1', big);
      assert.equal(res.status, 413);
      assert.equal((await firstError(res)).code, 'MANIFEST_TOO_LARGE');
    });
  });
}

describe('manifests with the referrers API off and a small size limit', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startTestRegistry({ registry: { referrersApi: false, maxManifestBytes: 2048 } });
  });
  after(async () => {
    await reg?.close();
  });

  it('sends no OCI-Subject header', async () => {
    const subject = await seededImage(reg.metadata, 'acme/nosubject');
    const referrer = await seededImage(reg.metadata, 'acme/nosubject', { subject: descriptorOf(OCI_MANIFEST, subject.bytes) });
    const put = await putManifest(reg.url, 'acme/nosubject', 'v1', referrer.bytes);
    assert.equal(put.status, 201);
    assert.equal(put.headers.get('oci-subject'), null);
  });

  it('enforces the configured limit with and without Content-Length', async () => {
    const image = await seededImage(reg.metadata, 'acme/limit', { annotations: { pad: 'x'.repeat(3000) } });
    const declared = await putManifest(reg.url, 'acme/limit', 'v1', image.bytes);
    assert.equal(declared.status, 413);
    assert.equal((await firstError(declared)).code, 'MANIFEST_TOO_LARGE');

    // A chunked body has no Content-Length: the limit must hold while reading.
    const chunks = [image.bytes.subarray(0, 1000), image.bytes.subarray(1000)];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(next);
      },
    });
    const chunked = await fetch(`${reg.url}/v2/acme/limit/manifests/v1`, {
      method: 'PUT',
      headers: { 'content-type': OCI_MANIFEST },
      body: stream,
      duplex: 'half',
    } as RequestInit & { duplex: 'half' });
    assert.equal(chunked.status, 413);
    assert.equal((await firstError(chunked)).code, 'MANIFEST_TOO_LARGE');

    const small = await seededImage(reg.metadata, 'acme/limit');
    assert.equal((await putManifest(reg.url, 'acme/limit', 'v1', small.bytes)).status, 201);
  });
});
