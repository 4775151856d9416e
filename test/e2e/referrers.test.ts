// OCI 1.1 artifacts: skopeo pushes an artifact manifest with a subject, the referrers API finds it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildArtifactLayout, http, MEDIA, pushBlob, sha256, type ArtifactLayout } from '../helpers/oci-images.js';
import { requireCommand, skopeo, startRegistryUnderTest, type RegistryServer } from '../helpers/processes.js';
import { authHeaders, pushScope, skopeoLogin } from '../helpers/registry-auth.js';

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: { mediaType: string; digest: string; size: number; artifactType?: string; annotations?: Record<string, string> }[];
}

const SIGNATURE_TYPE = 'application/vnd.quayside.e2e.signature';

describe('artifacts and the referrers API', () => {
  let server: RegistryServer;
  let work: string;
  let layout: ArtifactLayout;
  let signatureDigest: string;

  before(async () => {
    requireCommand('skopeo', 'apt-get install skopeo');
    work = await mkdtemp(join(tmpdir(), 'quayside-e2e-referrers-'));
    server = await startRegistryUnderTest();
    await skopeoLogin(server, work);
    layout = await buildArtifactLayout(join(work, 'layout'), 'img', 'sbom');
  });

  after(async () => {
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const ref = (tag: string) => `docker://${server.hostPort}/e2e/sbom:${tag}`;
  const referrers = async (digest: string, query = '') => {
    const res = await http(`${server.url}/v2/e2e/sbom/referrers/${digest}${query}`, {
      headers: await authHeaders(server, 'repository:e2e/sbom:pull'),
    });
    assert.equal(res.status, 200, `referrers answered ${res.status}: ${res.body.toString()}`);
    assert.match(String(res.headers['content-type']), /^application\/vnd\.oci\.image\.index\.v1\+json/);
    const index = JSON.parse(res.body.toString()) as ReferrersIndex;
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, MEDIA.index);
    return { index, headers: res.headers };
  };

  test('skopeo copies the subject image and the artifact manifest byte for byte', async () => {
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${layout.subject.dir}:img`, ref('img')]);
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${layout.artifact.dir}:sbom`, ref('sbom')]);
    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', ref('sbom')]);
    assert.equal(raw, layout.artifact.manifestBytes.toString('utf8'));
    assert.equal(sha256(raw), layout.artifact.manifest.digest);
  });

  test('the referrers API lists the artifact under its subject with its artifactType', async () => {
    const { index } = await referrers(layout.subject.manifest.digest);
    const entry = index.manifests.find((descriptor) => descriptor.digest === layout.artifact.manifest.digest);
    assert.ok(entry, `artifact ${layout.artifact.manifest.digest} not among ${JSON.stringify(index.manifests)}`);
    assert.equal(entry.mediaType, MEDIA.manifest);
    assert.equal(entry.size, layout.artifact.manifestBytes.length);
    assert.equal(entry.artifactType, layout.artifactType);
    assert.ok(entry.annotations?.['org.opencontainers.image.created'], 'the artifact annotations are not carried over');
  });

  test('a second artifact pushed over HTTP announces its subject (OCI-Subject)', async () => {
    const auth = await authHeaders(server, pushScope('e2e/sbom'));
    const empty = await pushBlob(server.url, 'e2e/sbom', Buffer.from('{}'), auth);
    const payload = randomBytes(512);
    const layer = await pushBlob(server.url, 'e2e/sbom', payload, auth);
    const subject = layout.subject.manifest;
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        artifactType: SIGNATURE_TYPE,
        config: { mediaType: MEDIA.empty, digest: empty, size: 2 },
        layers: [{ mediaType: 'application/octet-stream', digest: layer, size: payload.length }],
        subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      }),
    );
    signatureDigest = sha256(bytes);
    const res = await http(`${server.url}/v2/e2e/sbom/manifests/${signatureDigest}`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': MEDIA.manifest },
      body: bytes,
    });
    assert.equal(res.status, 201, `manifest PUT answered ${res.status}: ${res.body.toString()}`);
    assert.equal(res.headers['docker-content-digest'], signatureDigest);
    assert.equal(res.headers['oci-subject'], subject.digest, 'a registry with the referrers API must answer OCI-Subject');
    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${server.hostPort}/e2e/sbom@${signatureDigest}`]);
    assert.equal(raw, bytes.toString('utf8'));

    const { index } = await referrers(subject.digest);
    assert.deepEqual(
      index.manifests.map((descriptor) => descriptor.digest).sort(),
      [layout.artifact.manifest.digest, signatureDigest].sort(),
    );
  });

  test('the artifactType filter keeps only matching referrers and says it filtered', async () => {
    const subject = layout.subject.manifest.digest;
    const sbom = await referrers(subject, `?artifactType=${encodeURIComponent(layout.artifactType)}`);
    assert.deepEqual(sbom.index.manifests.map((descriptor) => descriptor.digest), [layout.artifact.manifest.digest]);
    assert.equal(sbom.headers['oci-filters-applied'], 'artifactType');

    const signature = await referrers(subject, `?artifactType=${encodeURIComponent(SIGNATURE_TYPE)}`);
    assert.deepEqual(signature.index.manifests.map((descriptor) => descriptor.digest), [signatureDigest]);

    const none = await referrers(subject, `?artifactType=${encodeURIComponent('application/vnd.quayside.e2e.absent')}`);
    assert.deepEqual(none.index.manifests, []);
  });

  test('a manifest nobody refers to has an empty referrers list; a bad digest is refused', async () => {
    const { index } = await referrers(layout.artifact.manifest.digest);
    assert.deepEqual(index.manifests, []);
    const unknown = await referrers(sha256(randomBytes(32)));
    assert.deepEqual(unknown.index.manifests, []);

    const bad = await http(`${server.url}/v2/e2e/sbom/referrers/sha256:not-a-digest`);
    assert.equal(bad.status, 400, `a malformed digest answered ${bad.status}`);
    const body = JSON.parse(bad.body.toString()) as { errors?: { code: string }[] };
    assert.ok(body.errors?.some((error) => error.code === 'DIGEST_INVALID'), `unexpected body ${bad.body.toString()}`);
  });
});
