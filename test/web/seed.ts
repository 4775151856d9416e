// Content for the browser tests that need a registry with something in it: a single image (tags v1 and
// stable) and a two-platform index pushed with skopeo into the e2e namespace, as a user would push them.
import { join } from 'node:path';
import { buildMultiArchIndex, buildUmociImage } from '../helpers/oci-images.js';
import { requireCommand, skopeo, type Credentials, type RegistryServer } from '../helpers/processes.js';
import { skopeoLogin } from '../helpers/registry-auth.js';

/** Pushes e2e/app:v1, e2e/app:stable and the index e2e/multi:v1; `work` holds the layouts and skopeo's auth. */
export async function pushSampleImages(server: RegistryServer, credentials: Credentials, work: string): Promise<void> {
  requireCommand('skopeo', 'apt-get install skopeo');
  requireCommand('umoci', 'apt-get install umoci');
  await skopeoLogin({ hostPort: server.hostPort, credentials }, work);
  const image = await buildUmociImage(join(work, 'single'), 'v1', 64 * 1024);
  const multi = await buildMultiArchIndex(join(work, 'multi'), 'v1', 32 * 1024);
  await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, `docker://${server.hostPort}/e2e/app:v1`]);
  await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, `docker://${server.hostPort}/e2e/app:stable`]);
  await skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${multi.dir}:v1`, `docker://${server.hostPort}/e2e/multi:v1`]);
}
