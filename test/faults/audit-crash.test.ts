// Issue 9 "Nothing lost": audit rows used to wait in memory up to 250 ms, so after kill -9, 2 of 260
// acknowledged pushes had no push_repo row. A real `quayside serve` is killed (SIGKILL, its whole process
// group) while pushes are still arriving; every push it acknowledged must have its row in the database.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { openDatabase } from '../../src/db/database.js';
import { http, pushBlob } from '../helpers/oci-images.js';
import { killHard, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { authHeaders, pushScope } from '../helpers/registry-auth.js';

const REPOSITORY = 'e2e/audit-crash';
const PUSHES = 120;
const KILL_AFTER_ACKS = 60;

describe('audit rows survive kill -9', () => {
  let dataDir: string;
  let server: RegistryServer;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'quayside-audit-crash-'));
    server = await startQuayside({ dataDir });
  });
  after(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('every acknowledged push has its push_repo row', async () => {
    const auth = await authHeaders(server, pushScope(REPOSITORY));
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const configDigest = await pushBlob(server.url, REPOSITORY, config, auth);
    const acknowledged: string[] = [];
    let killing: Promise<void> | undefined;
    const push = async (i: number) => {
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
        layers: [],
        annotations: { push: String(i) },
      });
      const response = await http(`${server.url}/v2/${REPOSITORY}/manifests/t${i}`, {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        body: manifest,
      }).catch(() => undefined);
      if (response?.status !== 201 || killing !== undefined) return;
      acknowledged.push(String(response.headers['docker-content-digest']));
      // Kill the moment enough were acknowledged, with the rest of the pushes still in flight.
      if (acknowledged.length >= KILL_AFTER_ACKS) killing = killHard(server);
    };
    await Promise.all(Array.from({ length: PUSHES }, (_, i) => push(i)));
    assert.ok(killing !== undefined, `only ${acknowledged.length} pushes were acknowledged`);
    await killing;

    const database = await openDatabase({ uri: `sqlite:///${join(dataDir, 'quayside.db')}` });
    try {
      const rows = await createAccountMetadata(database).audit.query({ kinds: ['push_repo'], repository: REPOSITORY }, { limit: 10_000 });
      const recorded = new Set(rows.map((row) => String(row.metadata.manifest_digest)));
      const missing = acknowledged.filter((digest) => !recorded.has(digest));
      console.log(`audit after kill -9: ${acknowledged.length} acknowledged pushes, ${rows.length} push_repo rows, ${missing.length} missing`);
      assert.deepEqual(missing, [], `${missing.length} of ${acknowledged.length} acknowledged pushes have no push_repo row`);
    } finally {
      await database.close();
    }
  });
});
