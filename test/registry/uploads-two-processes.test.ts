// Two real `quayside serve` processes over one PostgreSQL database and one storage directory, as two
// instances of a fleet: the chunks of one upload alternate between them, and the digest comes out right
// although neither process has anything of the other in memory: the hash state travels in the upload row.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { E2E_USER, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { pushScope, registryToken } from '../helpers/registry-auth.js';

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

describe('a chunked upload alternating between two serve processes', () => {
  let work: string;
  let fresh: FreshDatabase;
  const servers: RegistryServer[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'quayside-two-processes-'));
    fresh = await freshDatabase('postgres');
    const config = join(work, 'config.yaml');
    await writeFile(config, [
      `DB_URI: ${fresh.uri}`,
      'DISTRIBUTED_STORAGE_CONFIG:',
      `  shared: [LocalStorage, {storage_path: ${JSON.stringify(join(work, 'storage'))}}]`,
      'DISTRIBUTED_STORAGE_PREFERENCE: [shared]',
      '',
    ].join('\n'));
    servers.push(await startQuayside({ config }));
    // The user lives in the shared database; the first start created it.
    servers.push(await startQuayside({ config, user: false }));
  });
  after(async () => {
    for (const server of servers) await server.stop();
    await fresh?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('gets the digest right with every chunk on the other process, the state saved with each', async () => {
    const repository = `${E2E_USER.username}/alternate`;
    const tokens = await Promise.all(servers.map((server) => registryToken(server.url, [pushScope(repository)], E2E_USER)));
    const auth = (index: number) => ({ authorization: `Bearer ${tokens[index]}` });
    // Sizes that put chunk borders inside SHA-256 blocks and around the hasher's 256 KiB gathering.
    const parts = [1, 262_143, 1_000_003, 65, 2_500_000, 7].map((size) => randomBytes(size));
    const data = Buffer.concat(parts);

    const started = await fetch(`${servers[0]!.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: auth(0) });
    assert.equal(started.status, 202, await started.text());
    const location = started.headers.get('location')!;
    const id = location.split('/').pop()!;
    let offset = 0;
    for (const [index, part] of parts.entries()) {
      const instance = index % 2;
      const response = await fetch(new URL(location, servers[instance]!.url), {
        method: 'PATCH',
        body: new Uint8Array(part),
        headers: { ...auth(instance), 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + part.length - 1}` },
      });
      assert.equal(response.status, 202, `chunk ${index} on instance ${instance}: ${await response.text()}`);
      offset += part.length;
      const row = await sql<{ size: string; state_bytes: number | null }>`
        select size, octet_length(hash_state) as state_bytes from upload where id = ${id}`.execute(fresh.database.db);
      assert.equal(Number(row.rows[0]?.size), offset);
      assert.ok((row.rows[0]?.state_bytes ?? 0) > 0, `chunk ${index}: the hash state is in the row`);
    }
    // The completing PUT on the process that did not take the last chunk.
    const last = parts.length % 2;
    const put = await fetch(new URL(`${location}?digest=${sha256(data)}`, servers[last]!.url), { method: 'PUT', headers: auth(last) });
    assert.equal(put.status, 201, await put.text());
    const pulled = await fetch(`${servers[1 - last]!.url}/v2/${repository}/blobs/${sha256(data)}`, { headers: auth(1 - last) });
    assert.equal(pulled.status, 200);
    assert.deepEqual(Buffer.from(await pulled.arrayBuffer()), data);
  });
});
