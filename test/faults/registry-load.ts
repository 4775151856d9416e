// A bounded registry load for fault tests: a few workers, each pushing small blobs and a manifest over real
// HTTP and pulling back what it pushed, logging every answer (status, start, end). Pushes the registry
// acknowledged (manifest PUT answered 201) are kept so the test can read every one of them back afterwards.
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { MEDIA, sha256 } from '../helpers/oci-images.js';
import { basicAuth } from '../helpers/registry-auth.js';
import type { Credentials } from '../helpers/processes.js';

/** One answered (or failed) request. */
export interface Exchange {
  method: string;
  path: string;
  /** HTTP status; 0 when no answer came (connection refused, reset, or the client's own time limit). */
  status: number;
  startedAt: number;
  endedAt: number;
  error?: string;
  retryAfter?: string;
  body?: string;
}

/** A push the registry acknowledged: its manifest and blobs must read back byte for byte. */
export interface AcknowledgedPush {
  repository: string;
  tag: string;
  manifest: Buffer;
  blobs: { digest: string; bytes: Buffer }[];
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A request that never waits longer than this is reported as unanswered (status 0) instead of hanging the test. */
const CLIENT_TIMEOUT_MS = 30_000;

/** One HTTP request, recorded in `log`. */
export async function exchange(
  log: Exchange[],
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<Response> {
  const method = options.method ?? 'GET';
  const startedAt = Date.now();
  const record = (status: number, extra: Partial<Exchange> = {}) =>
    log.push({ method, path: path.split('?')[0]!, status, startedAt, endedAt: Date.now(), ...extra });
  try {
    const response = await new Promise<Response>((resolve, reject) => {
      const req = httpRequest(new URL(path, base), { method, headers: options.headers, timeout: CLIENT_TIMEOUT_MS }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${CLIENT_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(options.body);
    });
    const retryAfter = response.headers['retry-after'];
    record(response.status, {
      ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
      ...(response.status >= 300 ? { body: response.body.toString('utf8').slice(0, 500) } : {}),
    });
    return response;
  } catch (error) {
    record(0, { error: error instanceof Error ? error.message : String(error) });
    return { status: 0, headers: {}, body: Buffer.alloc(0) };
  }
}

/** A failed step: the iteration is abandoned (nothing it did was acknowledged). */
class StepFailed extends Error {}

function expect(response: Response, status: number): Response {
  if (response.status !== status) throw new StepFailed(String(response.status));
  return response;
}

export interface LoadOptions {
  base: string;
  credentials: Credentials;
  /** Repositories e2e/<prefix>-<n>, one per worker. */
  repositoryPrefix: string;
  workers: number;
  /** Pause between two iterations of one worker, which bounds the load on a shared machine. */
  pauseMs: number;
}

/** A running load; stop() waits for the iterations in flight. */
export interface RunningLoad {
  readonly log: Exchange[];
  readonly acknowledged: AcknowledgedPush[];
  /** Pulled bytes that differed from what was pushed (must stay empty). */
  readonly mismatches: string[];
  stop(): Promise<void>;
}

/** Starts the workers. */
export function startLoad(options: LoadOptions): RunningLoad {
  const log: Exchange[] = [];
  const acknowledged: AcknowledgedPush[] = [];
  const mismatches: string[] = [];
  let running = true;

  const worker = async (index: number): Promise<void> => {
    const repository = `e2e/${options.repositoryPrefix}-${index}`;
    const mine: AcknowledgedPush[] = [];
    let token: string | undefined;
    for (let iteration = 0; running; iteration += 1) {
      try {
        if (token === undefined) {
          const scope = encodeURIComponent(`repository:${repository}:pull,push`);
          const answer = await exchange(log, options.base, `/v2/auth?service=${encodeURIComponent(new URL(options.base).host)}&scope=${scope}`, {
            headers: { authorization: basicAuth(options.credentials) },
          });
          expect(answer, 200);
          token = (JSON.parse(answer.body.toString('utf8')) as { token: string }).token;
        }
        const auth = { authorization: `Bearer ${token}` };
        const check = (response: Response, status: number): Response => {
          // An expired token is refreshed, as docker does.
          if (response.status === 401) token = undefined;
          return expect(response, status);
        };
        const layer = randomBytes(512 + (iteration % 8) * 256);
        const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', worker: index, iteration, nonce: randomBytes(8).toString('hex') }));
        const blobs = [
          { digest: sha256(config), bytes: config },
          { digest: sha256(layer), bytes: layer },
        ];
        for (const blob of blobs) {
          check(
            await exchange(log, options.base, `/v2/${repository}/blobs/uploads/?digest=${blob.digest}`, {
              method: 'POST',
              headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(blob.bytes.length) },
              body: blob.bytes,
            }),
            201,
          );
        }
        const manifest = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: MEDIA.manifest,
            config: { mediaType: MEDIA.config, digest: blobs[0]!.digest, size: config.length },
            layers: [{ mediaType: MEDIA.layerTar, digest: blobs[1]!.digest, size: layer.length }],
          }),
        );
        const tag = `t${iteration}`;
        check(
          await exchange(log, options.base, `/v2/${repository}/manifests/${tag}`, {
            method: 'PUT',
            headers: { ...auth, 'content-type': MEDIA.manifest },
            body: manifest,
          }),
          201,
        );
        const push = { repository, tag, manifest, blobs };
        acknowledged.push(push);
        mine.push(push);
        // Pull an earlier push back while the load goes on.
        const earlier = mine[iteration % mine.length]!;
        const pulled = check(await exchange(log, options.base, `/v2/${repository}/manifests/${earlier.tag}`, { headers: { ...auth, accept: MEDIA.manifest } }), 200);
        if (!pulled.body.equals(earlier.manifest)) mismatches.push(`${repository}:${earlier.tag} manifest`);
        const blob = earlier.blobs[1]!;
        const pulledBlob = check(await exchange(log, options.base, `/v2/${repository}/blobs/${blob.digest}`, { headers: auth }), 200);
        if (!pulledBlob.body.equals(blob.bytes)) mismatches.push(`${repository}@${blob.digest}`);
      } catch (error) {
        if (!(error instanceof StepFailed)) throw error;
      }
      await sleep(options.pauseMs);
    }
  };

  const workers = Array.from({ length: options.workers }, (_, index) => worker(index));
  return {
    log,
    acknowledged,
    mismatches,
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
  };
}
