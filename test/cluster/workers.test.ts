// `quayside serve` with worker processes: the count (flag, env, Quay's WORKER_COUNT_REGISTRY, auto) and its bad
// values; an upload whose chunks reach different workers; a worker killed with SIGKILL under load is replaced
// and no connection is lost with it; SIGTERM drains every worker; skopeo pushes and pulls through them.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveWorkerCount, WorkerCountError } from '../../src/cluster/worker-count.js';
import { buildUmociImage, hashLayoutBlobs, readLayoutImage } from '../helpers/oci-images.js';
import { E2E_USER, quaysideCli, requireCommand, run, skopeo, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { authHeaders, pushScope, skopeoLogin } from '../helpers/registry-auth.js';
import { requestOnFreshConnection } from '../helpers/fresh-connection.js';
import { waitUntil } from '../helpers/wait.js';

const MiB = 1024 * 1024;

/** Environment without the test command's QUAYSIDE_WORKERS=1 (empty is unset), so that the default (auto) applies. */
function defaultEnv(): NodeJS.ProcessEnv {
  return { ...process.env, QUAYSIDE_WORKERS: '' };
}

const once = requestOnFreshConnection;

/** The pids that wrote request-log lines for requests whose URL contains `fragment`. */
function pidsServing(server: RegistryServer, fragment: string): Set<number> {
  const pids = new Set<number>();
  for (const line of server.process.stdoutLines()) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; url?: string; pid?: number };
    if (entry.msg === 'request' && entry.url?.includes(fragment) && entry.pid !== undefined) pids.add(entry.pid);
  }
  return pids;
}

function workerPids(server: RegistryServer): number[] {
  const line = server.process.stdoutLines().find((l) => /worker processes \(/.test(l));
  assert.ok(line, 'serve names its worker processes');
  return line.replace(/.*\(/, '').replace(/\).*/, '').split(', ').map(Number);
}

describe('the worker count', () => {
  it('is the flag, else QUAYSIDE_WORKERS, else WORKER_COUNT_REGISTRY, else one per CPU', () => {
    assert.equal(resolveWorkerCount('3', '5', 7), 3);
    assert.equal(resolveWorkerCount(undefined, '5', 7), 5);
    assert.equal(resolveWorkerCount(undefined, undefined, 7), 7);
    assert.equal(resolveWorkerCount(undefined, '', 7), 7, 'an empty variable is unset');
    assert.equal(resolveWorkerCount(undefined, undefined, undefined), availableParallelism());
    assert.equal(resolveWorkerCount('auto', '5', 7), availableParallelism());
  });

  it('refuses anything but 1 to 256 or auto, naming where it came from', () => {
    for (const bad of ['0', '-1', '257', '1.5', 'two', ' 2']) {
      assert.throws(() => resolveWorkerCount(bad, undefined, undefined), (error: unknown) => error instanceof WorkerCountError && error.message.startsWith('--workers: expected a number of worker processes from 1 to 256 or "auto"'));
    }
    assert.throws(() => resolveWorkerCount(undefined, 'lots', undefined), /^Error: QUAYSIDE_WORKERS: expected/);
  });

  it('a bad value on the command line, in the environment or in config.yaml is one line and exit 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qs-workers-bad-'));
    try {
      const flag = await run(process.execPath, [quaysideCli(), 'serve', '--data-dir', dir, '--port', '0', '--workers', 'many'], { timeoutMs: 30_000 });
      assert.equal(flag.code, 2);
      assert.equal(flag.stderr.trim(), 'serve: --workers: expected a number of worker processes from 1 to 256 or "auto", got "many"');
      const env = await run(process.execPath, [quaysideCli(), 'serve', '--data-dir', dir, '--port', '0'], { timeoutMs: 30_000, env: { ...defaultEnv(), QUAYSIDE_WORKERS: '0' } });
      assert.equal(env.code, 2);
      assert.equal(env.stderr.trim(), 'serve: QUAYSIDE_WORKERS: expected a number of worker processes from 1 to 256 or "auto", got "0"');
      const config = join(dir, 'config.yaml');
      await writeFile(config, 'WORKER_COUNT_REGISTRY: 0\n');
      const configured = await run(process.execPath, [quaysideCli(), 'serve', '--data-dir', dir, '--port', '0', '--config', config], { timeoutMs: 30_000, env: defaultEnv() });
      assert.notEqual(configured.code, 0);
      assert.match(configured.stderr.trim(), /^[^\n]*WORKER_COUNT_REGISTRY[^\n]*$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('serve with worker processes', { timeout: 300_000 }, () => {
  let server: RegistryServer;
  let work: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'qs-workers-'));
    server = await startQuayside({ serveArgs: ['--workers', '2'], maxLines: 100_000 });
  });

  after(async () => {
    await server?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('runs one worker per CPU by default', async () => {
    const auto = await startQuayside({ env: defaultEnv(), user: false });
    try {
      const expected = availableParallelism();
      if (expected > 1) assert.equal(workerPids(auto).length, expected);
      else assert.ok(!auto.process.stdoutLines().some((l) => /worker processes/.test(l)), 'one CPU: one process');
    } finally {
      await auto.stop();
    }
  });

  it('completes an upload whose chunks reach different workers, with the right digest', async () => {
    const repository = `${E2E_USER.username}/chunks`;
    const headers = await authHeaders(server, pushScope(repository));
    const chunks = [randomBytes(3 * MiB), randomBytes(1 * MiB), randomBytes(2 * MiB), randomBytes(512 * 1024)];
    const whole = Buffer.concat(chunks);
    const digest = `sha256:${createHash('sha256').update(whole).digest('hex')}`;
    const started = await once(`${server.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers });
    assert.equal(started.status, 202);
    let location = String(started.headers.location);
    const uuid = location.split('/').pop()!.split('?')[0]!;
    let offset = 0;
    for (const chunk of chunks) {
      const patched = await once(new URL(location, server.url).toString(), {
        method: 'PATCH',
        headers: { ...headers, 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}`, 'content-length': String(chunk.length) },
        body: chunk,
      });
      assert.equal(patched.status, 202, patched.body.toString());
      offset += chunk.length;
      location = String(patched.headers.location);
    }
    const put = await once(new URL(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, server.url).toString(), { method: 'PUT', headers });
    assert.equal(put.status, 201, put.body.toString());
    const pulled = await once(`${server.url}/v2/${repository}/blobs/${digest}`, { headers });
    assert.equal(pulled.status, 200);
    assert.equal(`sha256:${createHash('sha256').update(pulled.body).digest('hex')}`, digest);
    const pids = await waitUntil('the PATCH log lines', async () => {
      const found = pidsServing(server, uuid);
      return found.size >= 2 ? found : undefined;
    });
    assert.ok(pids.size >= 2, `the chunks were served by ${pids.size} worker(s)`);
  });

  it('a tag moved through one worker is seen at once by pulls through every other (the caches tell each other)', async () => {
    const repository = `${E2E_USER.username}/moving`;
    const headers = await authHeaders(server, pushScope(repository));
    const sha = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const pushImage = async (marker: string): Promise<string> => {
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', marker }));
      const stored = await once(`${server.url}/v2/${repository}/blobs/uploads/?digest=${sha(config)}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: config });
      assert.equal(stored.status, 201, stored.body.toString());
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [] }));
      const put = await once(`${server.url}/v2/${repository}/manifests/latest`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
      assert.equal(put.status, 201, put.body.toString());
      return sha(manifest);
    };
    const pulledDigests = async (count: number): Promise<string[]> => {
      const digests: string[] = [];
      for (let i = 0; i < count; i++) {
        const got = await once(`${server.url}/v2/${repository}/manifests/latest`, { headers: { ...headers, accept: 'application/vnd.oci.image.manifest.v1+json' } });
        assert.equal(got.status, 200);
        digests.push(String(got.headers['docker-content-digest']));
      }
      return digests;
    };
    const first = await pushImage('first');
    // Fresh connections go round robin: both workers now hold the tag in their cache.
    assert.deepEqual(await pulledDigests(4), [first, first, first, first]);
    const second = await pushImage('second');
    // No Redis here, and the in-process entries live 3 s: only the workers' own channel makes this immediate.
    assert.deepEqual(await pulledDigests(4), [second, second, second, second]);
  });

  it('skopeo pushes a two-layer image and pulls it back byte for byte through the workers', async () => {
    requireCommand('skopeo', 'apt-get install skopeo');
    requireCommand('umoci', 'apt-get install umoci');
    const image = await buildUmociImage(join(work, 'image'), 'v1', 2 * MiB);
    await skopeoLogin(server, work);
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${join(work, 'image')}:v1`, `docker://${server.hostPort}/${E2E_USER.username}/image:v1`], 180_000);
    await skopeo(['copy', '--src-tls-verify=false', `docker://${server.hostPort}/${E2E_USER.username}/image:v1`, `oci:${join(work, 'pulled')}:v1`], 180_000);
    const pulled = await readLayoutImage(join(work, 'pulled'), 'v1');
    assert.deepEqual(pulled.manifestBytes, image.manifestBytes);
    for (const [digest, actual] of await hashLayoutBlobs(join(work, 'pulled'))) assert.equal(actual, digest);
  });

  it('replaces a worker killed with SIGKILL under load; at most the request inside it is lost', async () => {
    const [victim] = workerPids(server);
    assert.ok(victim !== undefined);
    let stop = false;
    const outcomes = { ok: 0, failed: [] as string[] };
    const load = (async () => {
      while (!stop) {
        try {
          const answer = await once(`${server.url}/v2/`);
          if (answer.status === 401) outcomes.ok += 1;
          else outcomes.failed.push(`status ${answer.status}`);
        } catch (error) {
          outcomes.failed.push((error as Error).message);
        }
      }
    })();
    await waitUntil('some requests served', async () => (outcomes.ok >= 20 ? true : undefined));
    process.kill(victim, 'SIGKILL');
    await server.process.waitForLine(new RegExp(`worker process ${victim} killed by SIGKILL; starting a new one`), 30_000);
    const before = outcomes.ok;
    // Served by the new worker too: a pid that is neither the victim nor the survivor answers.
    const original = new Set(workerPids(server));
    await waitUntil('a new worker serving', async () => ([...pidsServing(server, '/v2/')].some((pid) => !original.has(pid)) ? true : undefined), 30_000);
    await waitUntil('requests served after the replacement', async () => (outcomes.ok >= before + 20 ? true : undefined));
    stop = true;
    await load;
    // One request at a time, each on a connection of its own: the one inside the victim when it died (if any)
    // is reset, as after the loss of an instance; a connection dealt to it but not yet taken is dealt again.
    assert.ok(outcomes.failed.length <= 1, `at most the request in flight failed: ${outcomes.failed.join('; ')}`);
    for (const failure of outcomes.failed) assert.match(failure, /ECONNRESET|socket hang up/);
  });
});

describe('SIGTERM with worker processes', { timeout: 120_000 }, () => {
  it('drains every worker: a request in flight completes, then all processes exit 0', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'qs-workers-drain-'));
    const server = await startQuayside({ serveArgs: ['--workers', '2'], dataDir });
    try {
      const pids = workerPids(server);
      const repository = `${E2E_USER.username}/drain`;
      const headers = await authHeaders(server, pushScope(repository));
      const blob = randomBytes(2 * MiB);
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      // One keep-alive connection: its first request is answered by a worker, so the slow upload that follows
      // on it is in that worker (not waiting in the primary) when SIGTERM arrives.
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const first = await new Promise<number>((resolve, reject) => {
        httpRequest(`${server.url}/v2/`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', reject).end();
      });
      assert.equal(first, 401);
      const answer = new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${server.url}/v2/${repository}/blobs/uploads/?digest=${digest}`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(blob.length) },
          agent,
        }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.write(blob.subarray(0, MiB));
        // The rest of the body only once the drain has begun: a request that had not reached a worker by then
        // would rightly get 503 (Fastify refuses new requests while closing).
        void server.process.waitForLine(/SIGTERM received, draining/, 30_000).then(() => req.end(blob.subarray(MiB)));
      });
      // In flight for sure once its first MiB is in the worker's upload file.
      await waitUntil('the first MiB stored', async () => ((await uploadBytesOnDisk(dataDir)) >= MiB ? true : undefined), 30_000, 20);
      process.kill(server.process.pid, 'SIGTERM');
      assert.equal(await answer, 201, 'the upload in flight completed');
      agent.destroy();
      await waitUntil('the primary exited', async () => (server.process.running() ? undefined : true), 60_000);
      assert.equal(server.process.child.exitCode, 0);
      for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} is gone`);
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

/** Bytes of the upload files under a data directory's local storage (its `uploads/` folder). */
async function uploadBytesOnDisk(dataDir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dataDir, { recursive: true, withFileTypes: true })) {
    const dir = (entry as unknown as { parentPath?: string; path?: string }).parentPath ?? (entry as unknown as { path: string }).path;
    if (entry.isFile() && dir.split(sep).includes('uploads')) total += (await stat(join(dir, entry.name))).size;
  }
  return total;
}
