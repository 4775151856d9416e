import { Readable } from 'node:stream';
import type { PlacementIndex } from '../db/placements.js';
import { BlobNotFoundError, UploadNotFoundError, type BlobFile, type BlobStore, type ByteRange } from './blob-store.js';
import { CircuitBreaker, DEFAULT_BREAKER_OPTIONS, type CircuitBreakerOptions } from './circuit-breaker.js';

/**
 * Geo-replication's placement-aware store (docs/geo-replication.md): one BlobStore over the named locations
 * of DISTRIBUTED_STORAGE_CONFIG, in this instance's preference order. Pushes go to the first location and record
 * the placement; reads go to the first location that holds the blob and, when it errors or does not answer in
 * time, to the next one that holds it, within the same request (even mid-stream: the rest of the range comes
 * from the next location). A failing location is avoided for a while (circuit breaker). It only wraps the plain
 * drivers; copying between locations is the replication worker's job.
 */

/** A named storage location. */
export interface StorageLocation {
  readonly name: string;
  readonly store: BlobStore;
}

export interface DistributedStoreLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

/** What the store tells metrics: which location served, and each fallback from a failing location. */
export interface DistributedStoreObserver {
  served(location: string): void;
  fallback(from: string): void;
}

export interface DistributedStoreOptions {
  /** In this instance's preference order; the first is where pushes go. */
  locations: readonly StorageLocation[];
  placements: Pick<PlacementIndex, 'recordPlacement' | 'locationsOf'>;
  log: DistributedStoreLog;
  observer?: DistributedStoreObserver;
  now?: () => number;
  /** A location that has not answered a stat or the start of a read by then has failed (default 10 s; serve: STORAGE_READ_TIMEOUT_S). */
  answerTimeoutMs?: number;
  /** Each location's breaker (default 2 failures, 30 s; serve: STORAGE_BREAKER_FAILURES, STORAGE_BREAKER_OPEN_S). */
  breaker?: Omit<CircuitBreakerOptions, 'now'>;
  /** The locations whose ping() makes this store's (DISTRIBUTED_STORAGE_PREFERENCE, as Quay's health); default the first. */
  preferred?: readonly string[];
}

export const DEFAULT_ANSWER_TIMEOUT_MS = 10_000;
/** Upload ids remembered with the location holding their temporary object (uploads this process started). */
const UPLOAD_MEMORY = 10_000;

class NoAnswerError extends Error {
  constructor(location: string, ms: number) {
    super(`storage location ${location} did not answer within ${ms} ms`);
    this.name = 'NoAnswerError';
  }
}

export class DistributedBlobStore implements BlobStore {
  readonly kind: string;
  readonly locations: readonly StorageLocation[];
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly uploadLocations = new Map<string, StorageLocation>();
  private readonly timeoutMs: number;

  constructor(private readonly options: DistributedStoreOptions) {
    if (options.locations.length === 0) throw new Error('a distributed store needs at least one location');
    this.locations = options.locations;
    this.kind = this.primary.store.kind;
    this.timeoutMs = options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
    for (const location of options.locations) {
      this.breakers.set(location.name, new CircuitBreaker({ ...DEFAULT_BREAKER_OPTIONS, ...options.breaker, now: options.now ?? Date.now }));
    }
  }

  /** The first preferred location: where this instance's pushes go. */
  get primary(): StorageLocation {
    return this.locations[0]!;
  }

  /** The location of that name, if this instance has it. */
  location(name: string): StorageLocation | undefined {
    return this.locations.find((location) => location.name === name);
  }

  /** The breaker state of a location (for health and tests). */
  breakerState(name: string) {
    return this.breakers.get(name)?.state();
  }

  // ---- reads ----

  async stat(digest: string): Promise<{ size: number } | undefined> {
    const found = await this.firstHolder(digest, (store) => store.stat(digest), () => undefined);
    return found?.value;
  }

  async read(digest: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const tried = new Set<string>();
    const open = async (from: ByteRange | undefined) => {
      const found = await this.firstHolder(
        digest,
        (store, attemptSignal) => store.read(digest, from, attemptSignal),
        (late) => late.destroy(),
        { skip: tried, signal },
      );
      if (found === undefined) throw new BlobNotFoundError(digest);
      tried.add(found.location);
      return found;
    };
    const first = await open(range);
    this.options.observer?.served(first.location);
    // Without a range end nothing says how much is left to fetch elsewhere; the registry always gives one.
    if (range === undefined) return first.value;
    return Readable.from(this.resumingBytes(digest, first, range, open, signal), { objectMode: false });
  }

  /** The bytes of `range`, continued from the next holder at the exact offset when a location fails mid-stream. */
  private async *resumingBytes(
    digest: string,
    first: { location: string; value: Readable },
    range: ByteRange,
    open: (from: ByteRange) => Promise<{ location: string; value: Readable }>,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<Buffer> {
    let current = first;
    let offset = range.start;
    for (;;) {
      try {
        for await (const chunk of current.value as AsyncIterable<Buffer>) {
          offset += chunk.length;
          yield chunk;
        }
        // A copy shorter than the range (truncated, or a cut connection reported as an end) is a failure too.
        if (offset > range.end) return;
        throw new Error(`the stream ended at byte ${offset} of ${range.end + 1}`);
      } catch (error) {
        if (signal?.aborted === true || offset > range.end) throw error;
        this.failed(current.location, digest, error, 'read broke off');
        current = await open({ start: offset, end: range.end });
        this.options.log.warn({ digest, from: first.location, to: current.location, offset }, 'storage: read continues from another location');
      }
    }
  }

  /**
   * The blob's local file from the first location holding it, when that location's store has files
   * (LocalStorage); undefined when the first holder keeps it elsewhere (S3, Swift: read() streams it then).
   */
  async openFile(digest: string): Promise<BlobFile | undefined> {
    const found = await this.firstHolder<BlobFile | 'not-a-file'>(
      digest,
      async (store) => (store.openFile === undefined ? 'not-a-file' : ((await store.openFile(digest)) ?? 'not-a-file')),
      (late) => {
        if (late !== 'not-a-file') void late.handle.close().catch(() => undefined);
      },
    );
    if (found === undefined) throw new BlobNotFoundError(digest);
    if (found.value === 'not-a-file') return undefined;
    this.options.observer?.served(found.location);
    return found.value;
  }

  async redirectUrl(digest: string): Promise<string | undefined> {
    const recorded = await this.recordedLocations(digest);
    const holders = this.holders(recorded);
    // One holder: no choice to make, and signing a URL asks nothing of the backend.
    if (holders.length <= 1) return holders[0]?.store.redirectUrl?.(digest);
    // Several: a signed URL says nothing of whether its location is up, and a client sent to a dead one fails.
    // So the first holder that answers a HEAD for the blob (the breaker and the answer timeout as for reads) is
    // the one the client goes to; one without signed URLs means the bytes are streamed from here (undefined).
    const found = await this.firstHolder(
      digest,
      async (store) => ((await store.stat(digest)) === undefined ? undefined : { url: await store.redirectUrl?.(digest) }),
      () => undefined,
      { recorded },
    );
    return found?.value.url;
  }

  /**
   * The locations recorded as holding the blob; undefined with a single location, which is the only place to
   * look whatever is recorded, so a blob read on the embedded default costs no placement query.
   */
  private async recordedLocations(digest: string): Promise<ReadonlySet<string> | undefined> {
    if (this.locations.length === 1) return undefined;
    return new Set(await this.options.placements.locationsOf(digest));
  }

  /**
   * The locations to look in, in preference order: those recorded as holding the blob, or, for a blob with no
   * placement at all (pushed before geo-replication), every location.
   */
  private holders(recorded: ReadonlySet<string> | undefined): StorageLocation[] {
    if (recorded === undefined || recorded.size === 0) return [...this.locations];
    return this.locations.filter((location) => recorded.has(location.name));
  }

  /**
   * Runs `attempt` on the holders in order until one yields a value: locations whose breaker is open are tried
   * last, only when no other one has it. A location that errors or does not answer in time counts as a failure
   * (the next one is tried); one that answers "not here" does not. Rejects with the last failure when no
   * location had the blob and one failed, since the blob may be on that one.
   */
  private async firstHolder<T>(
    digest: string,
    attempt: (store: BlobStore, signal: AbortSignal) => Promise<T | undefined>,
    discardLate: (value: T) => void,
    options: { skip?: ReadonlySet<string>; signal?: AbortSignal; recorded?: ReadonlySet<string> } = {},
  ): Promise<{ location: string; value: T } | undefined> {
    const recorded = options.recorded ?? (await this.recordedLocations(digest));
    // A blob with no placement (pushed before geo-replication) is looked for everywhere, and adopted where found.
    const legacy = recorded !== undefined && recorded.size === 0;
    const candidates = this.holders(recorded).filter((l) => options.skip?.has(l.name) !== true);
    const avoided: StorageLocation[] = [];
    let failure: unknown;
    const tryOne = async (location: StorageLocation): Promise<T | undefined> => {
      const breaker = this.breakers.get(location.name)!;
      try {
        const value = await this.answered(location, (signal) => attempt(location.store, signal), discardLate, options.signal);
        breaker.recordSuccess();
        return value;
      } catch (error) {
        if (error instanceof BlobNotFoundError) {
          breaker.recordSuccess();
          return undefined;
        }
        if (options.signal?.aborted === true) throw error;
        this.failed(location.name, digest, error, 'failed');
        failure = error;
        return undefined;
      }
    };
    for (const pass of [candidates, avoided]) {
      for (const location of pass) {
        if (pass === candidates && !this.breakers.get(location.name)!.tryAcquire()) {
          avoided.push(location);
          continue;
        }
        const value = await tryOne(location);
        if (value === undefined) continue;
        if (legacy) this.adopt(digest, location.name);
        return { location: location.name, value };
      }
    }
    if (failure !== undefined) throw failure;
    return undefined;
  }

  /** `work` on one location, abandoned (and its late result discarded) when it does not answer in time. */
  private answered<T>(location: StorageLocation, work: (signal: AbortSignal) => Promise<T | undefined>, discardLate: (value: T) => void, outer?: AbortSignal): Promise<T | undefined> {
    const controller = new AbortController();
    const forward = () => controller.abort(outer?.reason);
    // Unlinked on failure only: a stream the attempt returned must still stop when the client goes away.
    outer?.addEventListener('abort', forward, { once: true });
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const pending = work(controller.signal);
    return Promise.race([
      pending.then(
        (value) => {
          settled = true;
          return value;
        },
        (error: unknown) => {
          outer?.removeEventListener('abort', forward);
          throw error;
        },
      ),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          if (settled) return;
          controller.abort();
          outer?.removeEventListener('abort', forward);
          pending.then((late) => late !== undefined && discardLate(late), () => undefined);
          reject(new NoAnswerError(location.name, this.timeoutMs));
        }, this.timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  private failed(location: string, digest: string, error: unknown, what: string): void {
    this.breakers.get(location)!.recordFailure();
    this.options.observer?.fallback(location);
    const reason = error instanceof Error ? error.message : String(error);
    this.options.log.warn({ digest, location, err: reason, breaker: this.breakers.get(location)!.state() }, `storage: location ${location} ${what}; trying the next location holding the blob`);
  }

  /** A blob found without a placement (pushed before geo-replication): record where it is, for the next reads. */
  private adopt(digest: string, location: string): void {
    this.options.placements.recordPlacement(digest, location).catch((error: unknown) => {
      this.options.log.warn({ digest, location, err: error instanceof Error ? error.message : String(error) }, 'storage: could not record a placement');
    });
  }

  // ---- removal ----

  /**
   * Removes the blob from every location (not only the recorded ones: a copy may have landed without its
   * placement). No database access: garbage collection calls this inside its transaction and forgets the
   * placements there (src/db/garbage.ts). Rejects when a location could not delete; deleting is idempotent.
   */
  async delete(digest: string): Promise<void> {
    const results = await Promise.allSettled(this.locations.map((location) => location.store.delete(digest)));
    const failures = results.flatMap((result, i) => (result.status === 'rejected' ? [`${this.locations[i]!.name}: ${String(result.reason)}`] : []));
    if (failures.length > 0) throw new Error(`could not delete ${digest} from every location (${failures.join('; ')})`);
  }

  // ---- uploads: this instance's first location; an upload another instance started is found where it is ----

  async startUpload(uploadId: string): Promise<void> {
    await this.primary.store.startUpload(uploadId);
    this.remember(uploadId, this.primary);
  }

  async appendUpload(uploadId: string, offset: number, body: Readable, signal?: AbortSignal): Promise<number> {
    return (await this.uploadLocation(uploadId)).store.appendUpload(uploadId, offset, body, signal);
  }

  async truncateUpload(uploadId: string, size: number): Promise<void> {
    await (await this.uploadLocation(uploadId)).store.truncateUpload(uploadId, size);
  }

  async uploadSize(uploadId: string): Promise<number> {
    return (await this.uploadLocation(uploadId)).store.uploadSize(uploadId);
  }

  async commitUpload(uploadId: string, digest: string): Promise<void> {
    const location = await this.uploadLocation(uploadId);
    await location.store.commitUpload(uploadId, digest);
    this.uploadLocations.delete(uploadId);
    await this.options.placements.recordPlacement(digest, location.name);
  }

  async abortUpload(uploadId: string): Promise<void> {
    const location = await this.uploadLocation(uploadId);
    this.uploadLocations.delete(uploadId);
    await location.store.abortUpload(uploadId);
  }

  async listStaleUploads(before: Date): Promise<string[]> {
    return this.primary.store.listStaleUploads(before);
  }

  private remember(uploadId: string, location: StorageLocation): void {
    if (this.uploadLocations.size >= UPLOAD_MEMORY) this.uploadLocations.delete(this.uploadLocations.keys().next().value!);
    this.uploadLocations.set(uploadId, location);
  }

  /**
   * Where the upload's temporary object is: remembered when this process started it; else the first location
   * that knows it (an instance preferring another location started it behind the same load balancer); else
   * the first location, whose answer (upload unknown) the caller gets.
   */
  private async uploadLocation(uploadId: string): Promise<StorageLocation> {
    const known = this.uploadLocations.get(uploadId);
    if (known !== undefined) return known;
    if (this.locations.length === 1) return this.primary;
    for (const location of this.locations) {
      try {
        await location.store.uploadSize(uploadId);
        this.remember(uploadId, location);
        return location;
      } catch (error) {
        if (!(error instanceof UploadNotFoundError)) throw error;
      }
    }
    return this.primary;
  }

  // ---- lifecycle ----

  /** Every preferred location must work (Quay's storage health); the others are listed apart by /health/endtoend. */
  async ping(): Promise<void> {
    const names = this.options.preferred ?? [this.primary.name];
    await Promise.all(this.locations.filter((location) => names.includes(location.name)).map((location) => location.store.ping()));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.locations.map((location) => location.store.close?.()));
  }
}
