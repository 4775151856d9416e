// Cache invalidations between the workers of one `serve` are waited for: a write is answered only once every
// other worker has dropped what it changed (src/cluster/sibling-invalidation.ts, docs/workers.md "Caches").
// The primary's relay is slowed on purpose (QUAYSIDE_TEST_RELAY_DELAY_MS, test only), as a primary starved of
// CPU would be: were the write answered before its siblings applied it, the requests right after it would be
// answered from the other worker's stale entry. A worker stopped with SIGSTOP holds writes up to the bound only.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { RELAY_DELAY_ENV } from '../../src/cluster/relay-delay.js';
import { SIBLING_ACK_TIMEOUT_MS } from '../../src/cluster/sibling-invalidation.js';
import { requestOnFreshConnection, type FreshAnswer } from '../helpers/fresh-connection.js';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.js';
import { E2E_USER, quaysideCli, run, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { authHeaders, pushScope } from '../helpers/registry-auth.js';
import { waitUntil } from '../helpers/wait.js';

const RELAY_DELAY_MS = 400;
/** Fresh connections go round robin over the two workers: this many reach each several times. */
const FRESH_PULLS = 8;
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

type Send = (url: string, options?: { method?: string; headers?: Record<string, string>; body?: Buffer }) => Promise<FreshAnswer>;

const sha = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Requests on one kept-alive connection (an agent of one socket), so they stay on the worker it was dealt to. */
function heldConnection(): { send: Send; close: () => void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send: Send = (url, options = {}) =>
    new Promise((resolve, reject) => {
      const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, agent, timeout: 20_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer to ${options.method ?? 'GET'} ${url} in 20 s`)));
      req.on('error', reject);
      req.end(options.body);
    });
  return { send, close: () => agent.destroy() };
}

/** The pid of the worker that logged the request whose URL contains `marker`. */
function pidServing(server: RegistryServer, marker: string): number | undefined {
  for (const line of server.process.stdoutLines()) {
    if (!line.startsWith('{') || !line.includes(marker)) continue;
    const entry = JSON.parse(line) as { msg?: string; url?: string; pid?: number };
    if (entry.msg === 'request' && entry.url?.includes(marker) === true) return entry.pid;
  }
  return undefined;
}

function workerPids(server: RegistryServer): number[] {
  const line = server.process.stdoutLines().find((l) => /worker processes \(/.test(l));
  assert.ok(line, 'serve names its worker processes');
  return line.replace(/.*\(/, '').replace(/\).*/, '').split(', ').map(Number);
}

/** One repository's tag `latest`, pushed and pulled through whichever connection each call is given. */
function repositoryOf(server: RegistryServer, repository: string, headers: Record<string, string>) {
  const manifestUrl = (query = '') => `${server.url}/v2/${repository}/manifests/latest${query}`;
  return {
    /** Stores a config blob and returns the manifest bytes that tag it (not yet put). */
    async prepare(send: Send, marker: string): Promise<Buffer> {
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', marker }));
      const stored = await send(`${server.url}/v2/${repository}/blobs/uploads/?digest=${sha(config)}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: config });
      assert.equal(stored.status, 201, stored.body.toString());
      return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [] }));
    },
    /** PUTs the manifest as `latest`; returns its digest and how long the PUT took to be answered. */
    async put(send: Send, manifest: Buffer): Promise<{ digest: string; ms: number }> {
      const started = performance.now();
      const put = await send(manifestUrl(), { method: 'PUT', headers: { ...headers, 'content-type': MANIFEST_TYPE }, body: manifest });
      const ms = performance.now() - started;
      assert.equal(put.status, 201, put.body.toString());
      return { digest: sha(manifest), ms };
    },
    /** What `latest` is (its digest, or its status when not 200); `query` marks the request in the log. */
    async pull(send: Send, query = ''): Promise<string> {
      const got = await send(manifestUrl(query), { headers: { ...headers, accept: MANIFEST_TYPE } });
      return got.status === 200 ? String(got.headers['docker-content-digest']) : `status ${got.status}`;
    },
    async pullFresh(count: number): Promise<string[]> {
      const seen: string[] = [];
      for (let i = 0; i < count; i++) seen.push(await this.pull(requestOnFreshConnection));
      return seen;
    },
    async deleteTag(send: Send): Promise<{ status: number; ms: number }> {
      const started = performance.now();
      const deleted = await send(manifestUrl(), { method: 'DELETE', headers });
      return { status: deleted.status, ms: performance.now() - started };
    },
  };
}

describe('cache invalidations between workers are waited for', { timeout: 180_000 }, () => {
  let server: RegistryServer;
  let metricsUrl: string;

  before(async () => {
    server = await startQuayside({ serveArgs: ['--workers', '2', '--metrics-port', '0'], env: { [RELAY_DELAY_ENV]: String(RELAY_DELAY_MS) }, maxLines: 100_000 });
    metricsUrl = (await server.process.waitForLine(/quayside metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/)).replace(/.* on /, '');
  });
  after(async () => server?.stop());

  it('a write is answered once the other worker applied it: every next request sees it, on fresh and held connections', async () => {
    const repository = `${E2E_USER.username}/relayed`;
    const tag = repositoryOf(server, repository, await authHeaders(server, pushScope(repository)));
    const first = await tag.put(requestOnFreshConnection, await tag.prepare(requestOnFreshConnection, 'first'));
    // Both workers now hold the tag in their cache.
    assert.deepEqual(new Set(await tag.pullFresh(FRESH_PULLS)), new Set([first.digest]));
    // Two connections dealt one after the other reach the two workers, and stay there.
    const held = [heldConnection(), heldConnection()];
    try {
      for (const [i, connection] of held.entries()) assert.equal(await tag.pull(connection.send, `?held=relayed-${i}`), first.digest);
      const pids = await waitUntil('the held connections in the log', () => {
        const found = held.map((_, i) => pidServing(server, `held=relayed-${i}`));
        return found.every((pid) => pid !== undefined) ? found : undefined;
      });
      assert.notEqual(pids[0], pids[1], 'the two held connections are on different workers');

      const second = await tag.put(requestOnFreshConnection, await tag.prepare(requestOnFreshConnection, 'second'));
      // The relay alone takes RELAY_DELAY_MS: an answer sooner would have come before the sibling heard of it.
      assert.ok(second.ms >= RELAY_DELAY_MS, `the PUT was answered after ${second.ms.toFixed(0)} ms, before its relay (${RELAY_DELAY_MS} ms)`);
      for (const connection of held) assert.equal(await tag.pull(connection.send), second.digest);
      assert.deepEqual(await tag.pullFresh(FRESH_PULLS), Array(FRESH_PULLS).fill(second.digest));

      // A tag deleted: the same wait, the same immediate effect everywhere.
      const deleted = await tag.deleteTag(requestOnFreshConnection);
      assert.equal(deleted.status, 202);
      assert.ok(deleted.ms >= RELAY_DELAY_MS, `the DELETE was answered after ${deleted.ms.toFixed(0)} ms, before its relay (${RELAY_DELAY_MS} ms)`);
      for (const connection of held) assert.equal(await tag.pull(connection.send), 'status 404');
      assert.deepEqual(await tag.pullFresh(FRESH_PULLS), Array(FRESH_PULLS).fill('status 404'));
    } finally {
      for (const connection of held) connection.close();
    }
  });

  it('a worker stopped with SIGSTOP holds a write only up to the bound, is named, and catches up when continued', async () => {
    const repository = `${E2E_USER.username}/stopped`;
    const tag = repositoryOf(server, repository, await authHeaders(server, pushScope(repository)));
    const first = await tag.put(requestOnFreshConnection, await tag.prepare(requestOnFreshConnection, 'first'));
    assert.deepEqual(new Set(await tag.pullFresh(FRESH_PULLS)), new Set([first.digest]));
    const held = heldConnection();
    try {
      // Every request of the stopped phase goes on this connection: a fresh one may be dealt to the stopped worker.
      assert.equal(await tag.pull(held.send, '?held=stopped'), first.digest);
      const serving = await waitUntil('the held connection in the log', () => pidServing(server, 'held=stopped'));
      const stopped = workerPids(server).find((pid) => pid !== serving);
      assert.ok(stopped !== undefined);
      const manifest = await tag.prepare(held.send, 'second');
      process.kill(stopped, 'SIGSTOP');
      let second: { digest: string; ms: number };
      try {
        second = await tag.put(held.send, manifest);
        await server.process.waitForLine(new RegExp(`worker process ${stopped} did not apply a cache invalidation within ${SIBLING_ACK_TIMEOUT_MS} ms`), 10_000);
        assert.equal(await tag.pull(held.send), second.digest);
      } finally {
        process.kill(stopped, 'SIGCONT');
      }
      // It waited for the stopped worker (the bound), then was answered anyway: not hung.
      assert.ok(second.ms >= SIBLING_ACK_TIMEOUT_MS, `answered after ${second.ms.toFixed(0)} ms, before the bound`);
      assert.ok(second.ms < SIBLING_ACK_TIMEOUT_MS + 10_000, `answered after ${second.ms.toFixed(0)} ms`);
      assert.ok(
        server.process.stdoutLines().some((line) => line.includes('"pid":' + String(serving)) && line.includes('cache invalidation not acknowledged by every other worker in time')),
        'the worker that waited logged it',
      );
      // Continued, it reads the invalidation queued on its channel before any connection dealt to it after.
      assert.deepEqual(await tag.pullFresh(FRESH_PULLS), Array(FRESH_PULLS).fill(second.digest));
      const scraped = await requestOnFreshConnection(metricsUrl);
      assert.equal(scraped.status, 200);
      assert.ok((sampleValue(parsePrometheusText(scraped.body.toString()), 'quayside_cache_sibling_timeouts_total') ?? 0) >= 1, 'the timeout is counted');
    } finally {
      held.close();
    }
  });
});

describe('QUAYSIDE_TEST_RELAY_DELAY_MS', () => {
  it('is refused with one line and exit 2 unless it is milliseconds', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qs-relay-delay-'));
    try {
      for (const bad of ['soon', '-1', '60001']) {
        const result = await run(process.execPath, [quaysideCli(), 'serve', '--port', '0', '--workers', '2', '--data-dir', dir], { timeoutMs: 30_000, env: { ...process.env, [RELAY_DELAY_ENV]: bad } });
        assert.equal(result.code, 2);
        assert.equal(result.stderr.trim(), `serve: ${RELAY_DELAY_ENV}: expected milliseconds from 0 to 60000, got ${JSON.stringify(bad)}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
