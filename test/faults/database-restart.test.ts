// The database restarts under the real server: `quayside serve` on a private PostgreSQL (then MariaDB) server
// that this test owns, a bounded push/pull load over real HTTP, the database stopped (fast shutdown, as in a
// failover or a restart) and started RESTARTS times, then paused with SIGSTOP once (a hung database). The
// process must stay up; clients see 2xx, or 503 with Retry-After while the database is away (a 401 only where a
// token is refreshed); every acknowledged push reads back byte for byte; service comes back by itself.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PrivateDatabaseServer } from '../helpers/private-db-process.js';
import { startPrivateMariadb } from '../helpers/private-mariadb.js';
import { startPrivatePostgres } from '../helpers/private-postgres.js';
import { startQuayside, type RegistryServer } from '../helpers/processes.js';
import { basicAuth, registryToken } from '../helpers/registry-auth.js';
import { MEDIA } from '../helpers/oci-images.js';
import { exchange, startLoad, type Exchange, type RunningLoad } from './registry-load.js';

const RESTARTS = 5;
// Short bounds so that a hung database costs the test seconds, not the 30 s default.
const CONNECT_TIMEOUT_S = 1;
const QUERY_TIMEOUT_S = 2;
const POOL_TIMEOUT_S = 3;
// The longest a request may take while the database hangs: it waits for a connection (pool_timeout) or for
// an answer (query_timeout), then fails; the slack covers a loaded machine.
const HANG_BOUND_MS = (POOL_TIMEOUT_S + QUERY_TIMEOUT_S) * 1000 + 5_000;
// A bound only so that a broken recovery fails the test instead of hanging it; the measured times are reported.
const RECOVERY_BOUND_MS = 15_000;
// What the issue asks of recovery: service back within a second of the database (the median, so that one
// scheduling hiccup of a loaded machine does not fail the test), and never beyond a few seconds.
const RECOVERY_MEDIAN_MS = 1_000;
const RECOVERY_MAX_MS = 5_000;
// Load between two faults: enough pushes that transactions are in flight when the database goes away.
const SUCCESSES_BETWEEN_FAULTS = 40;
const UNAVAILABLE_PER_OUTAGE = 10;

async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

const succeeded = (entry: Exchange) => entry.status >= 200 && entry.status < 300;

/** The first success that ended after `since`, or undefined. */
function firstSuccessAfter(log: Exchange[], since: number): Exchange | undefined {
  let first: Exchange | undefined;
  for (const entry of log) {
    if (succeeded(entry) && entry.endedAt >= since && (first === undefined || entry.endedAt < first.endedAt)) first = entry;
  }
  return first;
}

const unavailableSince = (log: Exchange[], since: number) => log.filter((entry) => entry.status === 503 && entry.startedAt >= since).length;

interface ErrorBodies {
  oci?: { errors?: { code?: string }[] };
  quay?: { status?: number; error_type?: string; error_message?: string };
}

/** While the database is down: /v2, /v2/auth, /api/v1 and /health answer 503 in their own shapes. */
async function assertUnavailableShapes(server: RegistryServer, token: string, probes: Exchange[]): Promise<void> {
  const credentials = server.credentials!;
  // A token issued before the outage still verifies (this instance has its signing key); the lookup fails.
  const v2 = await exchange(probes, server.url, '/v2/e2e/fault-0/manifests/t0', { headers: { accept: MEDIA.manifest, authorization: `Bearer ${token}` } });
  assert.equal(v2.status, 503, `/v2 answered ${v2.status} ${v2.body.toString()}`);
  assert.equal(v2.headers['retry-after'], '1');
  assert.equal((JSON.parse(v2.body.toString()) as ErrorBodies['oci'])?.errors?.[0]?.code, 'UNAVAILABLE');

  const login = await exchange(probes, server.url, `/v2/auth?service=${server.hostPort}&scope=repository:e2e/fault-0:pull`, {
    headers: { authorization: basicAuth(credentials) },
  });
  assert.equal(login.status, 503, `/v2/auth answered ${login.status} ${login.body.toString()}`);
  assert.equal(login.headers['retry-after'], '1');
  assert.equal((JSON.parse(login.body.toString()) as ErrorBodies['oci'])?.errors?.[0]?.code, 'UNAVAILABLE');

  // A repository this instance never looked up: one it did may still be answered from the metadata cache
  // for a few seconds (docs/redis.md), which is the cache working, not an outage shape.
  const api = await exchange(probes, server.url, `/api/v1/repository/e2e/never-looked-up-${Date.now()}`);
  assert.equal(api.status, 503, `/api/v1 answered ${api.status} ${api.body.toString()}`);
  assert.equal(api.headers['retry-after'], '1');
  const quay = JSON.parse(api.body.toString()) as NonNullable<ErrorBodies['quay']>;
  assert.equal(quay.status, 503);
  assert.equal(quay.error_type, 'service_unavailable');

  // /health/instance leaves storage to /health/endtoend, as Quay does.
  for (const [path, services] of [['/health/instance', { database: false }], ['/health/endtoend', { database: false, storage: true }]] as const) {
    const health = await exchange(probes, server.url, path);
    assert.equal(health.status, 503, `${path} answered ${health.status}`);
    assert.deepEqual((JSON.parse(health.body.toString()) as { data: { services: Record<string, boolean> } }).data.services, services);
  }
}

/** A time when the database was away: from stopping it to the first success after it came back. */
interface Outage {
  from: number;
  until: number;
}

/** Reads every acknowledged push back: the manifest by its tag and every blob, byte for byte. */
async function assertAllReadBack(server: RegistryServer, load: RunningLoad): Promise<void> {
  const probes: Exchange[] = [];
  const tokens = new Map<string, string>();
  for (const push of load.acknowledged) {
    let token = tokens.get(push.repository);
    if (token === undefined) {
      const answer = await exchange(probes, server.url, `/v2/auth?service=${server.hostPort}&scope=repository:${push.repository}:pull`, {
        headers: { authorization: basicAuth(server.credentials!) },
      });
      assert.equal(answer.status, 200);
      token = (JSON.parse(answer.body.toString()) as { token: string }).token;
      tokens.set(push.repository, token);
    }
    const auth = { authorization: `Bearer ${token}` };
    const manifest = await exchange(probes, server.url, `/v2/${push.repository}/manifests/${push.tag}`, { headers: { ...auth, accept: MEDIA.manifest } });
    assert.equal(manifest.status, 200, `${push.repository}:${push.tag} answered ${manifest.status}`);
    assert.ok(manifest.body.equals(push.manifest), `${push.repository}:${push.tag} reads back different bytes`);
    for (const blob of push.blobs) {
      const pulled = await exchange(probes, server.url, `/v2/${push.repository}/blobs/${blob.digest}`, { headers: auth });
      assert.equal(pulled.status, 200, `${push.repository}@${blob.digest} answered ${pulled.status}`);
      assert.ok(pulled.body.equals(blob.bytes), `${push.repository}@${blob.digest} reads back different bytes`);
    }
  }
}

function statusCounts(log: Exchange[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const entry of log) counts[String(entry.status)] = (counts[String(entry.status)] ?? 0) + 1;
  return counts;
}

const SERVERS: { name: string; start: () => Promise<PrivateDatabaseServer> }[] = [
  { name: 'PostgreSQL', start: startPrivatePostgres },
  { name: 'MariaDB', start: startPrivateMariadb },
];

for (const spec of SERVERS) {
  describe(`${spec.name} restarts under load`, () => {
    let work: string;
    let database: PrivateDatabaseServer | undefined;
    let server: RegistryServer | undefined;
    let load: RunningLoad | undefined;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'quayside-fault-db-'));
      database = await spec.start();
      const config = join(work, 'config.yaml');
      await writeFile(
        config,
        [
          `DB_URI: ${database.uri}`,
          'DB_CONNECTION_ARGS:',
          `  connect_timeout: ${CONNECT_TIMEOUT_S}`,
          `  query_timeout: ${QUERY_TIMEOUT_S}`,
          `  pool_timeout: ${POOL_TIMEOUT_S}`,
          'DISTRIBUTED_STORAGE_CONFIG:',
          `  local: [LocalStorage, {storage_path: ${JSON.stringify(join(work, 'storage'))}}]`,
          'DISTRIBUTED_STORAGE_PREFERENCE: [local]',
          '',
        ].join('\n'),
      );
      server = await startQuayside({ config, env: { QUAYSIDE_LOG_LEVEL: 'warn' } });
    });

    after(async () => {
      await load?.stop().catch(() => undefined);
      await server?.stop();
      await database?.destroy();
      await rm(work, { recursive: true, force: true });
    });

    it(`survives ${RESTARTS} restarts and a hang: 503 while away, nothing acknowledged lost, back by itself`, async (t: TestContext) => {
      const db = database!;
      const registry = server!;
      const running = startLoad({ base: registry.url, credentials: registry.credentials!, repositoryPrefix: 'fault', workers: 4, pauseMs: 5 });
      load = running;
      const probes: Exchange[] = [];
      const probeToken = await registryToken(registry.url, ['repository:e2e/fault-0:pull'], registry.credentials!);
      const recoveries: number[] = [];
      const outages: { downMs: number; unavailable: number }[] = [];
      const windows: Outage[] = [];
      const successesSince = (since: number) => running.log.filter((entry) => succeeded(entry) && entry.startedAt >= since).length;

      for (let cycle = 1; cycle <= RESTARTS; cycle += 1) {
        const settledAt = Date.now();
        await waitFor(`successful requests before restart ${cycle}`, 60_000, () =>
          successesSince(settledAt) >= SUCCESSES_BETWEEN_FAULTS ? true : undefined,
        );
        const downAt = Date.now();
        await db.stop();
        await waitFor(`503 answers while the database is down (restart ${cycle})`, 30_000, () =>
          unavailableSince(running.log, downAt) >= UNAVAILABLE_PER_OUTAGE ? true : undefined,
        );
        if (cycle === 1) await assertUnavailableShapes(registry, probeToken, probes);
        await db.start();
        const upAt = Date.now();
        outages.push({ downMs: upAt - downAt, unavailable: unavailableSince(running.log, downAt) });
        const first = await waitFor(`a success after restart ${cycle}`, RECOVERY_BOUND_MS, () => firstSuccessAfter(running.log, upAt));
        recoveries.push(first.endedAt - upAt);
        windows.push({ from: downAt, until: first.endedAt });
        assert.ok(registry.process.running(), `quayside exited during restart ${cycle}`);
      }

      // A hung database: nothing answers, connections stay open. Requests must fail in bounded time, not hang.
      const settledAt = Date.now();
      await waitFor('successful requests before the hang', 60_000, () => (successesSince(settledAt) >= SUCCESSES_BETWEEN_FAULTS ? true : undefined));
      const pausedAt = Date.now();
      db.pause();
      await waitFor('503 answers while the database hangs', 60_000, () =>
        unavailableSince(running.log, pausedAt) >= UNAVAILABLE_PER_OUTAGE ? true : undefined,
      );
      const health = await exchange(probes, registry.url, '/health/instance');
      assert.equal(health.status, 503, 'health reports the hung database');
      db.resume();
      const resumedAt = Date.now();
      const firstAfterHang = await waitFor('a success after the hang', RECOVERY_BOUND_MS, () => firstSuccessAfter(running.log, resumedAt));
      const hangRecoveryMs = firstAfterHang.endedAt - resumedAt;
      windows.push({ from: pausedAt, until: firstAfterHang.endedAt });
      await waitFor('a few more successes', 60_000, () => (successesSince(resumedAt) >= SUCCESSES_BETWEEN_FAULTS ? true : undefined));
      await running.stop();

      assert.ok(registry.process.running(), 'quayside exited');
      const crashLines = [...registry.process.stdoutLines(), ...registry.process.stderrLines()].filter((line) => /Unhandled|uncaught/i.test(line));
      assert.deepEqual(crashLines, []);

      // Every answer is a success, a 503 with Retry-After while the database is away, or a 401 that makes the
      // worker fetch a new token; nothing went unanswered.
      const log = running.log;
      const unexpected = log.filter((entry) => !succeeded(entry) && entry.status !== 503 && entry.status !== 401);
      assert.deepEqual(unexpected.slice(0, 5), [], `unexpected answers: ${JSON.stringify(statusCounts(unexpected))}`);
      const withoutRetryAfter = log.filter((entry) => entry.status === 503 && entry.retryAfter !== '1');
      assert.deepEqual(withoutRetryAfter.slice(0, 3), []);
      assert.deepEqual(running.mismatches, []);
      // 503 only while the database was away: each one overlaps an outage (a request may start just before
      // the stop, or end just after the first success once the database is back).
      const outOfOutage = log.filter(
        (entry) => entry.status === 503 && !windows.some((window) => entry.endedAt >= window.from && entry.startedAt <= window.until),
      );
      assert.deepEqual(outOfOutage.slice(0, 3), [], `${outOfOutage.length} answers were 503 while the database was up`);
      const sorted = [...recoveries].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      assert.ok(median <= RECOVERY_MEDIAN_MS, `median recovery ${median} ms (all: ${recoveries.join(', ')})`);
      assert.ok(Math.max(...recoveries, hangRecoveryMs) <= RECOVERY_MAX_MS, `recovery took ${Math.max(...recoveries, hangRecoveryMs)} ms`);

      // While the database hung, each request failed within the bound instead of waiting as long as it hung.
      const duringHang = log.filter((entry) => entry.startedAt >= pausedAt && entry.startedAt < resumedAt);
      const slowest = Math.max(...duringHang.map((entry) => entry.endedAt - entry.startedAt));
      assert.ok(slowest <= HANG_BOUND_MS, `a request took ${slowest} ms while the database hung (bound ${HANG_BOUND_MS} ms)`);
      assert.ok(duringHang.every((entry) => entry.status === 503 || succeeded(entry) || entry.status === 401));

      await assertAllReadBack(registry, running);

      t.diagnostic(
        `${spec.name}: ${RESTARTS} restarts + 1 hang survived; requests ${log.length} ${JSON.stringify(statusCounts(log))}; ` +
          `acknowledged pushes ${running.acknowledged.length}, all read back; ` +
          `outages ${outages.map((o) => `${o.downMs} ms/${o.unavailable}x503`).join(', ')}; ` +
          `recovery after restart (DB ready -> first success) ${recoveries.join(', ')} ms (median ${median}, max ${Math.max(...recoveries)} ms); ` +
          `hang: ${duringHang.length} requests, slowest ${slowest} ms, recovery ${hangRecoveryMs} ms`,
      );
    });
  });
}
