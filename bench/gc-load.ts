// GC under load (issue 14): a `quayside serve` (one process, GC worker off) on the local PostgreSQL and a
// LocalStorage directory holding N manifests (default 10,000; --quick 2,000) in repositories of 100, half tagged,
// half untagged past the grace period, each with its own 4 KiB layer (a real object in storage) and one shared
// layer. Hand-written clients push (a config blob and a tagged manifest per push) and pull (a tagged manifest and
// its layer) all the time; one `quayside gc` pass runs in its own process in the middle (as another instance's
// collector would). Prints the pass time, manifests, links and blobs per second, and push and pull throughput
// before, during and after the pass. node dist/bench/gc-load.js [--quick] [--manifests N] [--seconds S]
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMetadata } from '../src/db/kysely-metadata.js';
import { freshDatabase } from '../test/helpers/databases.js';
import { E2E_USER, quaysideCli, runOk, startQuayside } from '../test/helpers/processes.js';
import { pushScope, registryToken } from '../test/helpers/registry-auth.js';
import { RegistryClient } from './registry-client.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const quick = args.includes('--quick');
const TOTAL = option('--manifests', quick ? 2000 : 10_000);
const PHASE_S = option('--seconds', quick ? 5 : 10);
const PER_REPOSITORY = 100;
const CLIENTS = 4;
const HOUR = 3_600_000;
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const manifestOf = (config: { digest: string; size: number }, layers: { digest: string; size: number }[]): Buffer =>
  Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l })),
  }));

const work = await mkdtemp(join(tmpdir(), 'quayside-gc-load-'));
const storage = join(work, 'storage');
const fresh = await freshDatabase('postgres');
const config = join(work, 'config.yaml');
await writeFile(config, [
  `DB_URI: ${fresh.uri}`,
  'DISTRIBUTED_STORAGE_CONFIG:',
  `  local: [LocalStorage, {storage_path: ${JSON.stringify(storage)}}]`,
  'DISTRIBUTED_STORAGE_PREFERENCE: [local]',
  'FEATURE_GARBAGE_COLLECTION: false',
  'DEFAULT_TAG_EXPIRATION: 1h',
  '',
].join('\n'));
const server = await startQuayside({ config, serveArgs: ['--workers', '1'], outputFile: join(work, 'serve.log') });
const clients: RegistryClient[] = [];
try {
  // The registry, written two hours "ago" (past the one-hour grace period), straight into the database and storage.
  const metadata = createMetadata(fresh.database, { now: () => Date.now() - 2 * HOUR });
  const store = async (bytes: Buffer): Promise<{ digest: string; size: number }> => {
    const digest = sha256(bytes);
    const hex = digest.slice('sha256:'.length);
    await mkdir(join(storage, 'sha256', hex.slice(0, 2)), { recursive: true });
    await writeFile(join(storage, 'sha256', hex.slice(0, 2), hex), bytes);
    await metadata.blobs.recordBlob(digest, bytes.length);
    return { digest, size: bytes.length };
  };
  const loadStart = performance.now();
  const shared = await store(randomBytes(4096));
  const tagged: { repository: string; tag: string; layer: string }[] = [];
  const repositories = Math.ceil(TOTAL / PER_REPOSITORY);
  const seedRepository = async (r: number): Promise<void> => {
    const repository = `e2e/gc-r${r}`;
    const id = (await metadata.repositories.ensureRepository(repository)).id;
    await metadata.blobs.linkBlob(id, shared.digest);
    for (let i = r * PER_REPOSITORY; i < Math.min(TOTAL, (r + 1) * PER_REPOSITORY); i++) {
      const layer = await store(randomBytes(4096));
      await metadata.blobs.linkBlob(id, layer.digest);
      const bytes = manifestOf(shared, [layer]);
      const tags = i % 2 === 0 ? [`t${i}`] : [];
      await metadata.manifests.putManifest(id, {
        digest: sha256(bytes), mediaType: MANIFEST, artifactType: null, subjectDigest: null, annotations: null, bytes,
        references: [{ digest: shared.digest, kind: 'blob' }, { digest: layer.digest, kind: 'blob' }],
      }, tags);
      if (tags.length > 0 && r < 10) tagged.push({ repository, tag: tags[0]!, layer: layer.digest });
    }
  };
  for (let r = 0; r < repositories; r += 8) await Promise.all(Array.from({ length: Math.min(8, repositories - r) }, (_, k) => seedRepository(r + k)));
  process.stdout.write(`loaded ${TOTAL} manifests in ${repositories} repositories (${TOTAL / 2} untagged past the grace period) in ${((performance.now() - loadStart) / 1000).toFixed(1)} s\n`);

  const scopes = [pushScope('e2e/load'), ...Array.from({ length: Math.min(10, repositories) }, (_, r) => `repository:e2e/gc-r${r}:pull`)];
  const token = await registryToken(server.url, scopes, E2E_USER);
  const client = (): RegistryClient => {
    const c = new RegistryClient(server.url, 4);
    c.defaultHeaders = { authorization: `Bearer ${token}` };
    clients.push(c);
    return c;
  };
  const upload = async (c: RegistryClient, repository: string, bytes: Buffer): Promise<{ digest: string; size: number }> => {
    const digest = sha256(bytes);
    await c.expect(201, 'POST', `/v2/${repository}/blobs/uploads/?digest=${digest}`, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) }, body: bytes,
    });
    return { digest, size: bytes.length };
  };
  const layer = await upload(client(), 'e2e/load', randomBytes(4096));

  // Each loop counts what it finished; a phase's rate is the difference of the counters over its wall time.
  const done = { pushes: 0, pulls: 0 };
  let running = true;
  const pusher = async (c: RegistryClient, id: number): Promise<void> => {
    for (let n = 0; running; n++) {
      const configBlob = await upload(c, 'e2e/load', Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', id, n, at: Date.now() })));
      const bytes = manifestOf(configBlob, [layer]);
      await c.expect(201, 'PUT', `/v2/e2e/load/manifests/p${id}-${n % 50}`, { headers: { 'content-type': MANIFEST }, body: bytes });
      done.pushes += 1;
    }
  };
  const puller = async (c: RegistryClient): Promise<void> => {
    while (running) {
      const image = tagged[Math.floor(Math.random() * tagged.length)]!;
      await c.expect(200, 'GET', `/v2/${image.repository}/manifests/${image.tag}`, { headers: { accept: MANIFEST } });
      await c.expect(200, 'GET', `/v2/${image.repository}/blobs/${image.layer}`, { discard: true });
      done.pulls += 1;
    }
  };
  const loops = [
    ...Array.from({ length: CLIENTS }, (_, id) => pusher(client(), id)),
    ...Array.from({ length: CLIENTS }, () => puller(client())),
  ];
  // A failed request stops every loop; the error is thrown at the end (after the phases).
  const loopsDone = Promise.all(loops);
  loopsDone.catch(() => (running = false));
  const phase = async (name: string, task: () => Promise<unknown>): Promise<{ name: string; seconds: number; pushes: number; pulls: number; result: unknown }> => {
    const before = { ...done };
    const start = performance.now();
    const result = await task();
    const seconds = (performance.now() - start) / 1000;
    return { name, seconds, pushes: (done.pushes - before.pushes) / seconds, pulls: (done.pulls - before.pulls) / seconds, result };
  };
  const wait = (seconds: number) => () => new Promise((done) => setTimeout(done, seconds * 1000));
  await phase('warm-up', wait(2));
  const baseline = await phase('before the pass', wait(PHASE_S));
  const pass = await phase('during the pass', () => runOk(process.execPath, [quaysideCli(), 'gc', '--config', config], { timeoutMs: 600_000 }));
  const after = await phase('after the pass', wait(PHASE_S));
  running = false;
  await loopsDone;

  const summary = String(pass.result).trim();
  const counts = /deleted (\d+) manifests, (\d+) blob links, \d+ expired tag lifetimes, (\d+) blobs \((\d+) bytes\)/.exec(summary);
  if (counts === null) throw new Error(`unexpected quayside gc output: ${summary}`);
  const [manifests, links, blobs] = [Number(counts[1]), Number(counts[2]), Number(counts[3])];
  const rate = (n: number) => (n / pass.seconds).toFixed(0);
  process.stdout.write(`gc pass (quayside gc, own process) under load: ${pass.seconds.toFixed(2)} s wall; ${manifests} manifests (${rate(manifests)}/s), ` +
    `${links} links (${rate(links)}/s), ${blobs} blobs (${rate(blobs)}/s)\n  ${summary}\n`);
  const reference = { pushes: (baseline.pushes + after.pushes) / 2, pulls: (baseline.pulls + after.pulls) / 2 };
  for (const p of [baseline, pass, after]) {
    process.stdout.write(`${p.name.padEnd(16)} ${p.seconds.toFixed(1).padStart(5)} s: ${p.pushes.toFixed(1).padStart(7)} pushes/s, ${p.pulls.toFixed(1).padStart(7)} pulls/s\n`);
  }
  const ratio = (during: number, ref: number) => `${((during / ref) * 100).toFixed(0)} %`;
  const within = (during: number, ref: number) => (during >= 0.9 * ref ? 'PASS' : 'MISS');
  process.stdout.write(`during / (before+after)/2: pushes ${ratio(pass.pushes, reference.pushes)} ${within(pass.pushes, reference.pushes)}, ` +
    `pulls ${ratio(pass.pulls, reference.pulls)} ${within(pass.pulls, reference.pulls)} (target: within 10 %)\n`);
} finally {
  for (const c of clients) c.close();
  await server.stop();
  await fresh.drop();
  await rm(work, { recursive: true, force: true });
}
