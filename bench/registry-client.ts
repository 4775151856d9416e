// The benchmark's registry client: node:http with keep-alive agents, bodies streamed from a generator, so a
// 1 GiB blob never sits in memory and the client's own cost stays small next to the server's.
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';

const BLOCK = 1024 * 1024;
const REQUEST_TIMEOUT_MS = 180_000;

/**
 * A blob of `size` pseudo-random bytes produced on demand: a random 1 MiB base block with the block number
 * stamped into its first 8 bytes, so blocks differ and each GeneratedBlob (fresh base) is unique.
 */
export class GeneratedBlob {
  readonly size: number;
  private readonly base = randomBytes(BLOCK);
  private cachedDigest: string | undefined;

  constructor(size: number) {
    this.size = size;
  }

  /** The bytes in [start, end) as a sequence of buffers of at most 1 MiB (each a fresh copy). */
  *chunks(start = 0, end = this.size): Generator<Buffer> {
    let offset = start;
    while (offset < end) {
      const blockIndex = Math.floor(offset / BLOCK);
      const block = Buffer.from(this.base);
      block.writeBigUInt64BE(BigInt(blockIndex), 0);
      const from = offset - blockIndex * BLOCK;
      const to = Math.min(BLOCK, end - blockIndex * BLOCK);
      yield from === 0 && to === BLOCK ? block : block.subarray(from, to);
      offset = blockIndex * BLOCK + to;
    }
  }

  /** sha256:<hex> of the whole blob, computed once by streaming the generator. */
  digest(): string {
    if (this.cachedDigest === undefined) {
      const hash = createHash('sha256');
      for (const chunk of this.chunks()) hash.update(chunk);
      this.cachedDigest = `sha256:${hash.digest('hex')}`;
    }
    return this.cachedDigest;
  }
}

/** A response whose body was either collected (small) or counted and discarded. */
export interface BenchResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  bytes: number;
}

/** A keep-alive client bound to one registry base URL. */
export class RegistryClient {
  readonly base: string;
  /** Sent with every request (a registry token's Authorization for servers with auth). */
  defaultHeaders: Record<string, string> = {};
  private readonly agent: Agent;

  constructor(base: string, maxSockets = 32) {
    this.base = base;
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /** Closes the pooled sockets. */
  close(): void {
    this.agent.destroy();
  }

  /**
   * One request. `body` is a Buffer or a generator of Buffers written with backpressure; `discard` counts
   * the response body instead of keeping it (for blob pulls); `hash` feeds the body to a sha256 as well.
   */
  async send(
    method: string,
    pathOrUrl: string,
    options: {
      headers?: Record<string, string>;
      body?: Buffer | Iterable<Buffer>;
      discard?: boolean;
      hash?: ReturnType<typeof createHash>;
    } = {},
  ): Promise<BenchResponse> {
    const url = new URL(pathOrUrl, this.base);
    return new Promise((resolveResponse, reject) => {
      const headers = { ...this.defaultHeaders, ...options.headers };
      const req = request(url, { method, headers, agent: this.agent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          options.hash?.update(chunk);
          if (!options.discard) chunks.push(chunk);
        });
        res.on('end', () => resolveResponse({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), bytes }));
        res.on('error', reject);
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${url.pathname} timed out after ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      const body = options.body;
      if (body === undefined) {
        req.end();
      } else if (Buffer.isBuffer(body)) {
        req.end(body);
      } else {
        writeAll(req, body).then(
          () => req.end(),
          (error: unknown) => req.destroy(error instanceof Error ? error : new Error(String(error))),
        );
      }
    });
  }

  /** Like send(), but throws unless the status is `expected`. */
  async expect(expected: number, method: string, pathOrUrl: string, options: Parameters<RegistryClient['send']>[2] = {}): Promise<BenchResponse> {
    const res = await this.send(method, pathOrUrl, options);
    if (res.status !== expected) {
      throw new Error(`${method} ${new URL(pathOrUrl, this.base).pathname} answered ${res.status}, expected ${expected}: ${res.body.toString().slice(0, 300)}`);
    }
    return res;
  }

  /** POST /blobs/uploads/ and return the upload's Location (absolute URL). */
  async startUpload(repository: string): Promise<URL> {
    const res = await this.expect(202, 'POST', `/v2/${repository}/blobs/uploads/`, { headers: { 'content-length': '0' } });
    return this.location(res);
  }

  /** Monolithic push: POST, then one PUT ?digest= carrying the whole body. */
  async pushMonolithic(repository: string, blob: GeneratedBlob): Promise<void> {
    const upload = await this.startUpload(repository);
    upload.searchParams.set('digest', blob.digest());
    await this.expect(201, 'PUT', upload.toString(), {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      body: blob.chunks(),
    });
  }

  /** Chunked push: POST, one PATCH with Content-Range per `chunkSize` bytes, then an empty PUT ?digest=. */
  async pushChunked(repository: string, blob: GeneratedBlob, chunkSize: number): Promise<void> {
    let upload = await this.startUpload(repository);
    for (let start = 0; start < blob.size; start += chunkSize) {
      const end = Math.min(blob.size, start + chunkSize);
      const res = await this.expect(202, 'PATCH', upload.toString(), {
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(end - start),
          'content-range': `${start}-${end - 1}`,
        },
        body: blob.chunks(start, end),
      });
      upload = this.location(res);
    }
    upload.searchParams.set('digest', blob.digest());
    await this.expect(201, 'PUT', upload.toString(), { headers: { 'content-length': '0' } });
  }

  /** Pulls a blob, discarding (and optionally hashing) the body; returns the number of bytes received. */
  async pull(repository: string, digest: string, hash?: ReturnType<typeof createHash>): Promise<number> {
    const res = await this.expect(200, 'GET', `/v2/${repository}/blobs/${digest}`, { discard: true, hash });
    return res.bytes;
  }

  /**
   * Pushes a small blob the quickest way this registry allows: one POST ?digest= when `singleRequest`,
   * else POST then PUT ?digest=.
   */
  async pushSmall(repository: string, bytes: Buffer, digest: string, singleRequest: boolean): Promise<void> {
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) };
    if (singleRequest) {
      await this.expect(201, 'POST', `/v2/${repository}/blobs/uploads/?digest=${digest}`, { headers, body: bytes });
      return;
    }
    const upload = await this.startUpload(repository);
    upload.searchParams.set('digest', digest);
    await this.expect(201, 'PUT', upload.toString(), { headers, body: bytes });
  }

  /**
   * Whether the registry completes an upload in one POST ?digest= with the body (OCI's single-request
   * monolithic upload); distribution 2.8 answers 202 and ignores the body, so the probe then finishes the upload.
   */
  async supportsSinglePostUpload(repository: string): Promise<boolean> {
    const bytes = randomBytes(64);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const res = await this.send('POST', `/v2/${repository}/blobs/uploads/?digest=${digest}`, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
      body: bytes,
    });
    if (res.status === 201) return true;
    if (res.status !== 202) throw new Error(`POST ?digest= probe answered ${res.status}: ${res.body.toString().slice(0, 300)}`);
    const upload = this.location(res);
    upload.searchParams.set('digest', digest);
    await this.expect(201, 'PUT', upload.toString(), {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
      body: bytes,
    });
    return false;
  }

  /** Pushes a manifest under a tag or digest reference; returns its digest header. */
  async putManifest(repository: string, reference: string, mediaType: string, bytes: Buffer): Promise<string> {
    const res = await this.expect(201, 'PUT', `/v2/${repository}/manifests/${reference}`, {
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: bytes,
    });
    return String(res.headers['docker-content-digest'] ?? '');
  }

  private location(res: BenchResponse): URL {
    const location = res.headers.location;
    if (typeof location !== 'string' || location === '') throw new Error(`response ${res.status} has no Location header`);
    return new URL(location, this.base);
  }
}

/** Writes every buffer of `body` to a request, waiting for 'drain' whenever the socket buffer is full. */
async function writeAll(req: ReturnType<typeof request>, body: Iterable<Buffer>): Promise<void> {
  for (const chunk of body) {
    if (req.destroyed) throw new Error('request destroyed while writing its body');
    if (!req.write(chunk)) {
      await new Promise<void>((resolveDrain, reject) => {
        const onDrain = () => {
          req.off('close', onClose);
          resolveDrain();
        };
        const onClose = () => {
          req.off('drain', onDrain);
          reject(new Error('request closed while writing its body'));
        };
        req.once('drain', onDrain);
        req.once('close', onClose);
      });
    }
  }
}
