import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';
import {
  DIALECTS,
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
  descriptorOf,
  firstError,
  imageManifest,
  putManifest,
  seedBlob,
  seededImage,
  sha256,
  type SeededImage,
} from './manifest-fixtures.js';

interface Index {
  schemaVersion: number;
  mediaType: string;
  manifests: Array<{ mediaType: string; digest: string; size: number; artifactType?: string; annotations?: Record<string, string> }>;
}

const SBOM = 'application/vnd.example.sbom.v1+json';
const SIGNATURE = 'application/vnd.example.signature.v1';

/** An artifact manifest (empty config, artifactType) about `subject`. */
async function artifact(reg: TestRegistry, repository: string, subject: SeededImage, artifactType: string, annotations?: Record<string, string>) {
  const empty = Buffer.from('{}');
  await seedBlob(reg.metadata, repository, empty);
  const layer = Buffer.from(`payload of ${artifactType} ${Math.random()}`);
  await seedBlob(reg.metadata, repository, layer);
  const bytes = imageManifest({
    artifactType,
    config: descriptorOf(OCI_EMPTY, empty),
    layers: [descriptorOf('application/octet-stream', layer)],
    subject: descriptorOf(OCI_MANIFEST, subject.bytes),
    annotations,
  });
  const res = await putManifest(reg.url, repository, sha256(bytes), bytes);
  assert.equal(res.status, 201);
  assert.equal(res.headers.get('oci-subject'), subject.digest);
  return { bytes, digest: sha256(bytes) };
}

for (const dialect of DIALECTS) {
  describe(`referrers on ${dialect}`, () => {
    let reg: TestRegistry;
    let subject: SeededImage;
    let sbom: { bytes: Buffer; digest: string };
    let signature: { bytes: Buffer; digest: string };
    let imageReferrer: SeededImage;

    before(async () => {
      reg = await startTestRegistry({ dialect });
      subject = await seededImage(reg.metadata, 'acme/app');
      assert.equal((await putManifest(reg.url, 'acme/app', 'v1', subject.bytes)).status, 201);
      sbom = await artifact(reg, 'acme/app', subject, SBOM, { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' });
      signature = await artifact(reg, 'acme/app', subject, SIGNATURE);
      // An image (no artifactType) referring to the subject reports its config media type.
      imageReferrer = await seededImage(reg.metadata, 'acme/app', { subject: descriptorOf(OCI_MANIFEST, subject.bytes) });
      assert.equal((await putManifest(reg.url, 'acme/app', imageReferrer.digest, imageReferrer.bytes)).status, 201);
    });
    after(async () => {
      await reg?.close();
    });

    it('lists every referrer as a descriptor in an OCI index', async () => {
      const res = await fetch(`${reg.url}/v2/acme/app/referrers/${subject.digest}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), OCI_INDEX);
      assert.equal(res.headers.get('oci-filters-applied'), null);
      const index = (await res.json()) as Index;
      assert.equal(index.schemaVersion, 2);
      assert.equal(index.mediaType, OCI_INDEX);
      const byDigest = new Map(index.manifests.map((m) => [m.digest, m]));
      assert.equal(index.manifests.length, 3);
      assert.deepEqual(byDigest.get(sbom.digest), {
        mediaType: OCI_MANIFEST,
        digest: sbom.digest,
        size: sbom.bytes.length,
        artifactType: SBOM,
        annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
      });
      assert.deepEqual(byDigest.get(signature.digest), {
        mediaType: OCI_MANIFEST,
        digest: signature.digest,
        size: signature.bytes.length,
        artifactType: SIGNATURE,
      });
      assert.equal(byDigest.get(imageReferrer.digest)?.artifactType, OCI_CONFIG);
    });

    it('filters by artifactType and says so', async () => {
      const res = await fetch(`${reg.url}/v2/acme/app/referrers/${subject.digest}?artifactType=${encodeURIComponent(SBOM)}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('oci-filters-applied'), 'artifactType');
      const index = (await res.json()) as Index;
      assert.deepEqual(index.manifests.map((m) => m.digest), [sbom.digest]);

      const none = await fetch(`${reg.url}/v2/acme/app/referrers/${subject.digest}?artifactType=application/vnd.none`);
      assert.deepEqual(((await none.json()) as Index).manifests, []);
    });

    it('answers an empty index for an unknown digest or repository, never 404', async () => {
      for (const path of [`acme/app/referrers/${sha256(Buffer.from('unknown'))}`, `acme/unknown/referrers/${subject.digest}`]) {
        const res = await fetch(`${reg.url}/v2/${path}`);
        assert.equal(res.status, 200, path);
        assert.equal(res.headers.get('content-type'), OCI_INDEX);
        assert.deepEqual((await res.json()) as Index, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
      }
    });

    it('drops a deleted referrer', async () => {
      const extra = await artifact(reg, 'acme/app', subject, 'application/vnd.example.temp');
      assert.equal((await fetch(`${reg.url}/v2/acme/app/manifests/${extra.digest}`, { method: 'DELETE' })).status, 202);
      const index = (await (await fetch(`${reg.url}/v2/acme/app/referrers/${subject.digest}`)).json()) as Index;
      assert.ok(!index.manifests.some((m) => m.digest === extra.digest));
    });

    it('refuses a malformed digest with 400', async () => {
      for (const digest of ['sha256:xyz', 'latest', `sha256:${'A'.repeat(64)}`]) {
        const res = await fetch(`${reg.url}/v2/acme/app/referrers/${digest}`);
        assert.equal(res.status, 400, digest);
        assert.equal((await firstError(res)).code, 'DIGEST_INVALID');
      }
    });
  });
}

describe('referrers API switched off', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startTestRegistry({ registry: { referrersApi: false } });
  });
  after(async () => {
    await reg?.close();
  });

  it('answers 404 as a registry without the API does', async () => {
    const res = await fetch(`${reg.url}/v2/acme/app/referrers/${sha256(Buffer.from('x'))}`);
    assert.equal(res.status, 404);
    const error = await firstError(res);
    assert.equal(error.code, 'NOT_FOUND');
  });
});
