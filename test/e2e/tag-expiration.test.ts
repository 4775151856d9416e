// skopeo pushes an image whose config carries `quay.expires-after`; its tag expires that long after the push,
// as in Quay, and from then on pulls by tag are refused while the history keeps it. The registry's clock is
// injected (no sleeps); skopeo is the real client.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildLabelledImage, http, type LayoutImage } from '../helpers/oci-images.js';
import { requireCommand, skopeo } from '../helpers/processes.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';

const HOUR = 3_600_000;

describe('quay.expires-after through skopeo', () => {
  let registry: TestRegistry;
  let work: string;
  let labelled: LayoutImage;
  let plain: LayoutImage;
  let clock = Date.now();

  before(async () => {
    requireCommand('skopeo', 'apt-get install skopeo');
    work = await mkdtemp(join(tmpdir(), 'quayside-e2e-expiry-'));
    registry = await startTestRegistry({ now: () => clock });
    labelled = await buildLabelledImage(join(work, 'labelled'), 'v1', { 'quay.expires-after': '2h', 'org.example.team': 'e2e' });
    plain = await buildLabelledImage(join(work, 'plain'), 'v1', { 'org.example.team': 'e2e' });
  });
  after(async () => {
    await registry?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const host = () => registry.url.replace(/^http:\/\//, '');
  const push = (image: LayoutImage, target: string) => skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, `docker://${host()}/${target}`]);
  const pull = (source: string) => skopeo(['copy', '--src-tls-verify=false', `docker://${host()}/${source}`, `oci:${join(work, 'out')}:pulled`]);
  const tagsOf = async (repository: string) => JSON.parse((await http(`${registry.url}/v2/${repository}/tags/list`)).body.toString()) as { tags: string[] };

  test('the label sets the expiry at push; after it the tag pull is MANIFEST_UNKNOWN, the digest still pulls', async () => {
    await push(labelled, 'expiry/app:short');
    await push(plain, 'expiry/app:kept');
    const repository = await registry.metadata.repositories.getRepository('expiry/app');
    assert.ok(repository);
    const short = await registry.metadata.tags.getTag(repository.id, 'short');
    assert.equal(short?.lifetimeEnd?.getTime(), (short?.lifetimeStart.getTime() ?? 0) + 2 * HOUR, 'expires two hours after the push');
    assert.equal((await registry.metadata.tags.getTag(repository.id, 'kept'))?.lifetimeEnd, null, 'no label, no expiry');
    await pull('expiry/app:short');
    assert.deepEqual((await tagsOf('expiry/app')).tags, ['kept', 'short']);

    clock += 2 * HOUR;
    await assert.rejects(pull('expiry/app:short'), /manifest unknown/i, 'skopeo is refused the expired tag');
    const byTag = await http(`${registry.url}/v2/expiry/app/manifests/short`, { headers: { accept: labelled.manifest.mediaType } });
    assert.equal(byTag.status, 404);
    assert.equal((JSON.parse(byTag.body.toString()) as { errors: { code: string }[] }).errors[0]?.code, 'MANIFEST_UNKNOWN');
    assert.deepEqual((await tagsOf('expiry/app')).tags, ['kept'], 'gone from the tag list');
    await pull('expiry/app:kept');
    // Like a deleted tag: in the history, its manifest still there (by digest) until the time machine window passes.
    const history = await registry.metadata.tags.tagHistory(repository.id, 'short');
    assert.equal(history.length, 1);
    await pull(`expiry/app@${labelled.manifest.digest}`);
  });
});
