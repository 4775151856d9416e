// skopeo pulls from the default `quayside serve` (worker processes, local storage, plain HTTP): the layers
// come out byte for byte, and /metrics shows they went out with sendfile(2) (src/http/file-body.ts).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TAIL_BYTES } from '../../src/http/file-body.js';
import { blobPath, buildUmociImage, hashLayoutBlobs, readLayoutImage, sha256, type LayoutImage } from '../helpers/oci-images.js';
import { requestOnFreshConnection as once } from '../helpers/fresh-connection.js';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.js';
import { requireCommand, skopeo, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { skopeoLogin } from '../helpers/registry-auth.js';
import { waitUntil } from '../helpers/wait.js';

interface ManifestJson {
  config: { digest: string; size: number };
  layers: { digest: string; size: number }[];
}

describe('skopeo pulls through the sendfile path of the default serve', { timeout: 240_000 }, () => {
  let server: RegistryServer;
  let work: string;
  let image: LayoutImage;
  let metricsUrl: string;

  before(async () => {
    requireCommand('skopeo', 'apt-get install skopeo');
    requireCommand('umoci', 'apt-get install umoci');
    work = await mkdtemp(join(tmpdir(), 'quayside-e2e-sendfile-'));
    // The default worker count (one per CPU), whatever the test runner's QUAYSIDE_WORKERS says.
    server = await startQuayside({ serveArgs: ['--workers', 'auto', '--metrics-port', '0'] });
    metricsUrl = (await server.process.waitForLine(/quayside metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/)).replace(/.* on /, '');
    await skopeoLogin(server, work);
    // Layers of 3 MiB: well over the tail that Node writes itself.
    image = await buildUmociImage(join(work, 'src'), 'v1', 3 * 1024 * 1024);
  });

  after(async () => {
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a pushed image copies back out identical, its layers sent with sendfile', async () => {
    const ref = `docker://${server.hostPort}/e2e/sendfile:v1`;
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, ref]);
    await skopeo(['copy', '--src-tls-verify=false', ref, `oci:${join(work, 'out')}:v1`]);

    const copied = await readLayoutImage(join(work, 'out'), 'v1');
    assert.ok(copied.manifestBytes.equals(image.manifestBytes), 'manifest bytes changed on the way through');
    const manifest = JSON.parse(image.manifestBytes.toString()) as ManifestJson;
    const outHashes = await hashLayoutBlobs(join(work, 'out'));
    for (const blob of [manifest.config, ...manifest.layers]) {
      assert.equal(sha256(await readFile(blobPath(image.dir, blob.digest))), blob.digest, 'test setup');
      assert.equal(outHashes.get(blob.digest), blob.digest, `blob ${blob.digest} missing or different after the pull`);
    }

    // skopeo fetched each blob once; the layers (compressed 3 MiB of random bytes) are far above the tail.
    const big = [manifest.config, ...manifest.layers].filter((blob) => blob.size > TAIL_BYTES);
    assert.ok(big.length >= 3, `expected at least 3 large layers, got ${big.length}`);
    const families = await waitUntil('the pulls are counted', async () => {
      const answer = await once(metricsUrl);
      const parsed = parsePrometheusText(answer.body.toString());
      return (sampleValue(parsed, 'quayside_registry_blob_sendfile_responses_total') ?? 0) >= big.length && parsed;
    });
    assert.equal(sampleValue(families, 'quayside_registry_blob_sendfile_responses_total'), big.length);
    assert.equal(sampleValue(families, 'quayside_registry_blob_sendfile_bytes_total'), big.reduce((sum, blob) => sum + blob.size - TAIL_BYTES, 0));
  });
});
