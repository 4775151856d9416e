// The README's "several registry instances behind the balancer" example, end to end: two `quayside serve`
// processes sharing one PostgreSQL database and one storage directory, `quayside lb run` (HAProxy) in front of
// them, skopeo pushing and pulling through the balancer, then one instance killed and the other carrying on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { skopeoLogin } from '../helpers/registry-auth.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { blobPath, buildUmociImage, hashLayoutBlobs, http, readLayoutImage, sha256, type LayoutImage } from '../helpers/oci-images.js';
import {
  freePort,
  quaysideCli,
  requireCommand,
  run,
  skopeo,
  startProcess,
  startQuayside,
  E2E_USER,
  type ManagedProcess,
  type RegistryServer,
} from '../helpers/processes.js';

// The namespace of E2E_USER, whom the first instance creates.
const REPOSITORY = 'e2e/app';
const HEALTH_URI = '/__fleet_health';

interface ManifestJson {
  config: { digest: string };
  layers: { digest: string }[];
}

interface BackendJson {
  name: string;
  port: number;
  status: string;
  check: string;
  up: boolean;
}

interface StatusJson {
  haproxy: { running: boolean };
  services: { name: string; backendsUp: number; backendsDown: number; backends: BackendJson[] }[];
}

/** A started `quayside lb run` with the ports a client needs. */
interface Balancer {
  process: ManagedProcess;
  httpPort: number;
  statusPort: number;
  /** Stops the balancer (and HAProxy with it) and removes its state dir. */
  stop(): Promise<void>;
}

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes; the error names `what`. */
async function pollUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    await sleep(250);
  }
}

/** The request-log URLs (JSON lines with a method and a status) an instance wrote to stdout for one repository. */
function repositoryRequests(server: RegistryServer, repository: string): string[] {
  const urls: string[] = [];
  for (const line of server.process.stdoutLines()) {
    if (!line.startsWith('{')) continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof entry !== 'object' || entry === null) continue;
    const { url, method, status } = entry as Record<string, unknown>;
    if (typeof url === 'string' && typeof method === 'string' && status !== undefined && url.startsWith(`/v2/${repository}/`)) {
      urls.push(`${method} ${url}`);
    }
  }
  return urls;
}

/** The lb.yaml of the README example: one default http service over the two instances, checked every second. */
function lbYaml(httpPort: number, instances: RegistryServer[]): string {
  return [
    'load_balancer:',
    '  name: registry_lb',
    `  http_ports: [${httpPort}]`,
    `  health_uri: ${HEALTH_URI}`,
    'services:',
    '  registry:',
    '    mode: http',
    '    balance: roundrobin',
    '    internal_port: 5000',
    '    health_check: { path: /health/instance, interval: 1s, expect_status: 200 }',
    '    backends:',
    ...instances.map((instance, i) => `      - { name: registry-${i + 1}, address: 127.0.0.1, port: ${instance.port} }`),
    '',
  ].join('\n');
}

/**
 * Starts the real CLI `quayside lb run`. The http port must be written into lb.yaml before start, so it is
 * picked free and may be taken in between: retry with another one. The status port is chosen by the kernel
 * (--status-port 0) and read from the "running" log line.
 */
async function startBalancer(work: string, instances: RegistryServer[]): Promise<Balancer> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const httpPort = await freePort();
    const config = join(work, 'lb.yaml');
    await writeFile(config, lbYaml(httpPort, instances));
    const stateDir = await mkdtemp(join(tmpdir(), 'qlb-fleet-'));
    try {
      const proc = await startProcess({
        command: process.execPath,
        args: [quaysideCli(), 'lb', 'run', '--config', config, '--state-dir', stateDir, '--status-port', '0'],
        ready: /"statusPort":(\d+).*quayside lb running/,
        readyTimeoutMs: 30_000,
      });
      return {
        process: proc,
        httpPort,
        statusPort: Number(proc.readyMatch[1]),
        stop: async () => {
          await proc.stop();
          await rm(stateDir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      lastError = error;
      await rm(stateDir, { recursive: true, force: true });
    }
  }
  throw lastError;
}

/** `quayside lb status --url ... --json`: its exit code (0 all up, 3 something down) and parsed report. */
async function lbStatus(statusPort: number): Promise<{ code: number | null; status: StatusJson }> {
  const result = await run(process.execPath, [quaysideCli(), 'lb', 'status', '--url', `http://127.0.0.1:${statusPort}`, '--json'], { timeoutMs: 20_000 });
  if (result.code !== 0 && result.code !== 3) {
    throw new Error(`quayside lb status exited ${result.code}: ${result.stderr}${result.stdout}`);
  }
  return { code: result.code, status: JSON.parse(result.stdout) as StatusJson };
}

/** The `registry` service's backends from a status report, by backend name. */
function backendsOf(status: StatusJson): Map<string, BackendJson> {
  const service = status.services.find((s) => s.name === 'registry');
  if (!service) throw new Error(`no "registry" service in lb status: ${JSON.stringify(status)}`);
  return new Map(service.backends.map((b) => [b.name, b]));
}

/** Asserts that a layout holds `expected`'s manifest byte for byte and every blob it references, by sha256. */
async function assertSameImage(outDir: string, expected: LayoutImage): Promise<void> {
  const copied = await readLayoutImage(outDir, expected.tag);
  assert.equal(copied.manifest.digest, expected.manifest.digest, 'manifest digest changed on the way through the balancer');
  assert.ok(copied.manifestBytes.equals(expected.manifestBytes), 'manifest bytes changed on the way through the balancer');
  const manifest = JSON.parse(expected.manifestBytes.toString()) as ManifestJson;
  const outHashes = await hashLayoutBlobs(outDir);
  for (const digest of [manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)]) {
    assert.equal(sha256(await readFile(blobPath(expected.dir, digest))), digest, `source blob ${digest} is corrupt (test setup)`);
    assert.equal(outHashes.get(digest), digest, `blob ${digest} missing or different after the round trip`);
  }
  for (const [name, actual] of outHashes) assert.equal(actual, name, `copied blob file ${name} holds other bytes`);
}

describe('several quayside instances behind quayside lb (README example)', { timeout: 180_000 }, () => {
  let work: string;
  let fresh: FreshDatabase | undefined;
  let instances: RegistryServer[] = [];
  let balancer: Balancer | undefined;
  let image: LayoutImage;
  // Every answer of the balancer's health URI while the test runs (status, or the error text).
  const healthAnswers: (number | string)[] = [];
  let healthPolling = false;
  let healthLoop: Promise<void> = Promise.resolve();

  const ref = (tag: string) => `docker://127.0.0.1:${balancer?.httpPort ?? 0}/${REPOSITORY}:${tag}`;

  before(async () => {
    requireCommand('skopeo', 'apt-get install skopeo');
    requireCommand('umoci', 'apt-get install umoci');
    requireCommand('haproxy', 'apt-get install haproxy');
    work = await mkdtemp(join(tmpdir(), 'quayside-e2e-fleet-'));
    // Migrated once here, so the two instances start on a ready schema instead of racing to create it.
    fresh = await freshDatabase('postgres');
    const config = join(work, 'config.yaml');
    await writeFile(
      config,
      [
        `DB_URI: ${fresh.uri}`,
        'DISTRIBUTED_STORAGE_CONFIG:',
        `  local: [LocalStorage, {storage_path: ${JSON.stringify(join(work, 'storage'))}}]`,
        'DISTRIBUTED_STORAGE_PREFERENCE: [local]',
        '',
      ].join('\n'),
    );
    // allSettled, so that an instance that did start is stopped by after() even when the other one failed.
    const outcomes = await Promise.allSettled([
      startQuayside({ config }),
      // The user lives in the shared database; the first instance's start created it.
      startQuayside({ config, user: false }),
    ]);
    instances = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    image = await buildUmociImage(join(work, 'src'), 'v1');
    for (const instance of instances) {
      // Both must really share the configured database and storage, not fall back to embedded defaults.
      await instance.process.waitForLine(/^metadata: postgres database \S+ on 127\.0\.0\.1:5432 as postgres; blobs: local storage location "local"/);
    }
    balancer = await startBalancer(work, instances);
    const lb = balancer;
    // Logged in through the balancer: a token one instance issues must verify on the other.
    await skopeoLogin({ hostPort: `127.0.0.1:${lb.httpPort}`, credentials: E2E_USER }, work);

    healthPolling = true;
    healthLoop = (async () => {
      while (healthPolling) {
        try {
          healthAnswers.push((await http(`http://127.0.0.1:${lb.httpPort}${HEALTH_URI}`)).status);
        } catch (error) {
          healthAnswers.push(String(error));
        }
        await sleep(200);
      }
    })();

    // Both backends pass their first health check before any traffic, so roundrobin has two servers to use.
    await pollUntil('both backends UP with L7OK in quayside lb status', 30_000, async () => {
      const { code, status } = await lbStatus(lb.statusPort);
      const backends = [...backendsOf(status).values()];
      return code === 0 && backends.length === 2 && backends.every((b) => b.up && b.check === 'L7OK') ? status : undefined;
    });
  });

  after(async () => {
    healthPolling = false;
    await healthLoop;
    await balancer?.stop();
    await Promise.all(instances.map((instance) => instance.stop()));
    await fresh?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a multi-layer image pushed and pulled through the balancer comes back byte for byte', async () => {
    const manifest = JSON.parse(image.manifestBytes.toString()) as ManifestJson;
    assert.ok(manifest.layers.length >= 3, `the test image should have at least 3 layers, has ${manifest.layers.length}`);
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, ref('v1')]);
    const out = join(work, 'out-1');
    await skopeo(['copy', '--src-tls-verify=false', ref('v1'), `oci:${out}:v1`]);
    await assertSameImage(out, image);
  });

  test('the balancer spread the work over both instances (their request logs name the repository)', async () => {
    const [first, second] = instances;
    assert.ok(first && second);
    // The log lines travel through a pipe: give them a moment to arrive.
    await pollUntil('/v2/e2e/app/ request lines in both instances\' logs', 10_000, async () =>
      repositoryRequests(first, REPOSITORY).length > 0 && repositoryRequests(second, REPOSITORY).length > 0 ? true : undefined,
    ).catch(() => undefined);
    const one = repositoryRequests(first, REPOSITORY);
    const two = repositoryRequests(second, REPOSITORY);
    assert.ok(one.length > 0, `instance 1 logged no /v2/${REPOSITORY}/ request; instance 2 logged ${two.length}`);
    assert.ok(two.length > 0, `instance 2 logged no /v2/${REPOSITORY}/ request; instance 1 logged ${one.length}`);
    // Uploads and blob reads, not only manifest look-ups, reached both (roundrobin over skopeo's many requests).
    const all = [...one, ...two];
    assert.ok(all.some((r) => r.startsWith('PUT ') && r.includes('/manifests/v1')), `no manifest PUT logged: ${all.join(', ')}`);
    assert.ok(all.some((r) => r.includes('/blobs/uploads/')), `no blob upload logged: ${all.join(', ')}`);
  });

  test('with one instance killed, the balancer marks it DOWN and the survivor serves pulls and pushes', async () => {
    const lb = balancer;
    const [victim, survivor] = instances;
    assert.ok(lb && victim && survivor);
    const exited = new Promise<void>((done) => {
      if (!victim.process.running()) done();
      else victim.process.child.once('exit', () => done());
    });
    assert.ok(victim.process.child.kill('SIGKILL'), 'could not signal instance 1');
    await exited;

    const down = await pollUntil('registry-1 DOWN in quayside lb status', 30_000, async () => {
      const { code, status } = await lbStatus(lb.statusPort);
      const backends = backendsOf(status);
      return backends.get('registry-1')?.status === 'DOWN' ? { code, backends } : undefined;
    });
    assert.equal(down.code, 3, 'lb status should exit 3 while a backend is down');
    assert.equal(down.backends.get('registry-1')?.up, false);
    assert.equal(down.backends.get('registry-2')?.up, true, `registry-2 should stay up: ${JSON.stringify(down.backends.get('registry-2'))}`);

    const survivorBefore = repositoryRequests(survivor, REPOSITORY).length;
    const out = join(work, 'out-2');
    await skopeo(['copy', '--src-tls-verify=false', ref('v1'), `oci:${out}:v1`]);
    await assertSameImage(out, image);

    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:v1`, ref('v2')]);
    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', ref('v2')]);
    assert.equal(raw, image.manifestBytes.toString('utf8'), 'the second tag does not resolve to the pushed manifest');
    const listed = JSON.parse(await skopeo(['list-tags', '--tls-verify=false', `docker://127.0.0.1:${lb.httpPort}/${REPOSITORY}`])) as { Tags: string[] };
    assert.deepEqual([...listed.Tags].sort(), ['v1', 'v2']);

    // All of that went to the survivor, which logged it.
    await pollUntil('the survivor\'s log to show the v2 manifest PUT', 10_000, async () =>
      repositoryRequests(survivor, REPOSITORY).some((r) => r.startsWith('PUT ') && r.includes('/manifests/v2')) ? true : undefined,
    );
    assert.ok(repositoryRequests(survivor, REPOSITORY).length > survivorBefore, 'the survivor logged no request after the kill');
  });

  test('the balancer\'s health URI answered 200 throughout', async () => {
    const lb = balancer;
    assert.ok(lb);
    assert.equal((await http(`http://127.0.0.1:${lb.httpPort}${HEALTH_URI}`)).status, 200);
    healthPolling = false;
    await healthLoop;
    assert.ok(healthAnswers.length >= 5, `too few health probes to judge (${healthAnswers.length})`);
    const bad = healthAnswers.filter((answer) => answer !== 200);
    assert.deepEqual(bad, [], `the health URI failed ${bad.length} of ${healthAnswers.length} times`);
  });
});
