// Issue 9 "Uploads after a crash": a real `quayside serve` is killed (SIGKILL, its process group) while a
// chunk streams in, leaving a temporary object longer than the size the database recorded. A fresh instance
// on the same data directory must resume the upload from the recorded range and complete it.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { http } from '../helpers/oci-images.js';
import { killHard, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { authHeaders, pushScope } from '../helpers/registry-auth.js';

const REPOSITORY = 'e2e/upload-crash';
const FIRST = 1024 * 1024;
const SECOND = 8 * 1024 * 1024;

async function sizeOf(file: string): Promise<number> {
  return (await stat(file)).size;
}

/** Polls `condition` every 20 ms until it holds; fails after `timeoutMs`. */
async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('an upload interrupted by kill -9 resumes on a fresh instance', () => {
  let dataDir: string;
  const servers: RegistryServer[] = [];
  after(async () => {
    for (const server of servers) await server.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('cuts the unrecorded bytes off, answers the recorded range, and completes', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'quayside-upload-crash-'));
    const first = await startQuayside({ dataDir });
    servers.push(first);
    const data = randomBytes(FIRST + SECOND);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    let auth = await authHeaders(first, pushScope(REPOSITORY));

    const started = await http(`${first.url}/v2/${REPOSITORY}/blobs/uploads/`, { method: 'POST', headers: auth });
    assert.equal(started.status, 202);
    const location = String(started.headers.location);
    const id = location.split('/').pop() as string;
    const chunk1 = await http(new URL(location, first.url).toString(), {
      method: 'PATCH',
      headers: { ...auth, 'content-type': 'application/octet-stream', 'content-range': `0-${FIRST - 1}` },
      body: data.subarray(0, FIRST),
    });
    assert.equal(chunk1.status, 202, chunk1.body.toString());

    // The second chunk: half of it sent, then the server is killed while it writes.
    const objectFile = join(dataDir, 'storage', 'uploads', id);
    const chunk2 = request(new URL(location, first.url), {
      method: 'PATCH',
      agent: false,
      headers: { ...auth, 'content-type': 'application/octet-stream', 'content-range': `${FIRST}-${FIRST + SECOND - 1}`, 'content-length': String(SECOND) },
    });
    chunk2.on('error', () => undefined);
    chunk2.on('response', (response) => response.resume());
    chunk2.write(data.subarray(FIRST, FIRST + SECOND / 2));
    await waitFor('the interrupted chunk to reach storage', async () => (await sizeOf(objectFile)) > FIRST);
    await killHard(first);
    chunk2.destroy();
    const leftover = await sizeOf(objectFile);
    assert.ok(leftover > FIRST, `the crash left ${leftover} bytes, more than the ${FIRST} recorded`);

    const second = await startQuayside({ dataDir, user: false });
    servers.push(second);
    auth = await authHeaders({ ...second, credentials: first.credentials }, pushScope(REPOSITORY));
    const target = new URL(location, second.url).toString();

    const status = await http(target, { headers: auth });
    assert.equal(status.status, 204);
    assert.equal(status.headers.range, `0-${FIRST - 1}`);
    // Before the fix every PATCH answered 416 with that same range, forever.
    const resumed = await http(target, {
      method: 'PATCH',
      headers: { ...auth, 'content-type': 'application/octet-stream', 'content-range': `${FIRST}-${FIRST + SECOND - 1}` },
      body: data.subarray(FIRST),
    });
    assert.equal(resumed.status, 202, resumed.body.toString());
    assert.equal(resumed.headers.range, `0-${FIRST + SECOND - 1}`);
    const done = new URL(target);
    done.searchParams.set('digest', digest);
    const put = await http(done.toString(), { method: 'PUT', headers: auth });
    assert.equal(put.status, 201, put.body.toString());
    const pulled = await http(`${second.url}/v2/${REPOSITORY}/blobs/${digest}`, { headers: auth });
    assert.equal(pulled.status, 200);
    assert.ok(pulled.body.equals(data), 'the blob holds exactly the pushed bytes');
  });
});
