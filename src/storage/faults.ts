import type { Readable } from 'node:stream';
import type { BlobFile, BlobStore, ByteRange } from './blob-store.js';

/**
 * Storage faults: the storage itself refuses (read-only, permission denied, full), as opposed to a missing
 * blob or a client's mistake. Drivers turn the errors of their backend into a StorageFaultError so that the
 * HTTP layer can say the storage is at fault (503, or 507 when full) instead of a bare 500, and so that the
 * operator reads one log line per fault instead of one per failing request.
 */

/**
 * `unavailable`: the backend cannot be reached or answers with a server error (connection refused, a timeout,
 * a 5xx from an object store after its retries): a transient outage, 503 with Retry-After.
 */
export type StorageFaultKind = 'read-only' | 'permission-denied' | 'no-space' | 'unavailable';

/**
 * errno codes that mean the storage, not the request, is at fault: the local filesystem's, and the socket
 * errors an object store's client surfaces when its backend cannot be reached (after the client's retries).
 */
const ERRNO_KINDS: Readonly<Record<string, StorageFaultKind>> = {
  EROFS: 'read-only',
  EACCES: 'permission-denied',
  EPERM: 'permission-denied',
  ENOSPC: 'no-space',
  EDQUOT: 'no-space',
  ECONNREFUSED: 'unavailable',
  ECONNRESET: 'unavailable',
  ETIMEDOUT: 'unavailable',
  EHOSTUNREACH: 'unavailable',
  ENETUNREACH: 'unavailable',
  EAI_AGAIN: 'unavailable',
  EPIPE: 'unavailable',
};

/** Seconds a client is told to wait (Retry-After) when the storage is unavailable. */
export const STORAGE_RETRY_AFTER_S = 5;

const DESCRIPTIONS: Readonly<Record<StorageFaultKind, string>> = {
  'read-only': 'the storage is read-only',
  'permission-denied': 'the registry is not permitted to access its storage',
  'no-space': 'the storage is full',
  unavailable: 'the storage is unavailable',
};

/** A failure of the storage backend itself; `report` is true for the one occurrence that should be logged. */
export class StorageFaultError extends Error {
  constructor(
    readonly kind: StorageFaultKind,
    /** The backend's own code (EROFS, ENOSPC, ...). */
    readonly backendCode: string,
    /** Which store (a driver name and where it keeps its data), for the operator's log; never sent to clients. */
    readonly store: string,
    readonly report: boolean,
    options: { cause: unknown },
  ) {
    super(`${DESCRIPTIONS[kind]} (${backendCode} on ${store})`, options);
    this.name = 'StorageFaultError';
  }

  /** What a client may be told: the kind of fault, without paths. */
  get publicMessage(): string {
    if (this.kind === 'unavailable') return `${DESCRIPTIONS[this.kind]}; retry later`;
    return `${DESCRIPTIONS[this.kind]}; an operator must fix it`;
  }
}

/** The fault kind of a Node filesystem error, or undefined for any other error. */
export function faultKindOf(error: unknown): StorageFaultKind | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as NodeJS.ErrnoException).code;
  return code === undefined ? undefined : ERRNO_KINDS[code];
}

/** Faults of one kind are logged once, and again only after this long while they last. */
export const FAULT_REPORT_INTERVAL_MS = 5 * 60 * 1000;

/** A driver's own reading of its backend's errors (HTTP statuses, SDK error names): the fault, or undefined. */
export type BackendFaultClassifier = (error: unknown) => { kind: StorageFaultKind; code: string } | undefined;

/**
 * Turns backend errors into StorageFaultErrors for one store, marking the first of each backend code (and
 * then one per FAULT_REPORT_INTERVAL_MS) for logging. An 'unavailable' fault ends with the first operation
 * that succeeds again: the next outage is a new fault period, logged again, even within the interval.
 */
export class StorageFaults {
  private readonly lastReported = new Map<string, { at: number; kind: StorageFaultKind }>();

  constructor(
    private readonly store: string,
    private readonly now: () => number = Date.now,
    /** Consulted before the errno codes; object-store drivers map their statuses here. */
    private readonly classifyBackend?: BackendFaultClassifier,
  ) {}

  /** `error` as a StorageFaultError when it is a storage fault; otherwise `error` itself. */
  classify(error: unknown): unknown {
    if (error instanceof StorageFaultError) return error;
    const backend = this.classifyBackend?.(error);
    if (backend !== undefined) return this.fault(backend.kind, backend.code, error);
    const kind = faultKindOf(error);
    if (kind === undefined) return error;
    return this.fault(kind, (error as NodeJS.ErrnoException).code ?? kind, error);
  }

  /** A StorageFaultError of this store, marked for reporting when it is the first of its code in a while. */
  fault(kind: StorageFaultKind, backendCode: string, cause: unknown): StorageFaultError {
    const now = this.now();
    const last = this.lastReported.get(backendCode);
    const report = last === undefined || now - last.at >= FAULT_REPORT_INTERVAL_MS;
    if (report) this.lastReported.set(backendCode, { at: now, kind });
    return new StorageFaultError(kind, backendCode, this.store, report, { cause });
  }

  /** The backend answered: an outage (kind 'unavailable') is over. Faults an operator must fix stay remembered. */
  recovered(): void {
    for (const [code, last] of this.lastReported) if (last.kind === 'unavailable') this.lastReported.delete(code);
  }

  /** Runs `operation`, rethrowing its storage faults classified. */
  async run<T>(operation: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await operation();
    } catch (error) {
      throw this.classify(error);
    }
    if (this.lastReported.size > 0) this.recovered();
    return result;
  }
}

/**
 * A BlobStore whose operations rethrow their backend's storage faults classified. Streams already handed
 * out fail with the backend's own errors: by then the response has started and its status is sent.
 */
export class FaultClassifyingStore implements BlobStore {
  readonly kind: string;
  readonly redirectUrl?: (digest: string) => Promise<string | undefined>;
  readonly openFile?: (digest: string) => Promise<BlobFile | undefined>;
  readonly close?: () => Promise<void>;

  constructor(
    private readonly inner: BlobStore,
    private readonly faults: StorageFaults,
  ) {
    this.kind = inner.kind;
    const { redirectUrl, openFile, close } = inner;
    if (redirectUrl !== undefined) this.redirectUrl = (digest) => faults.run(() => redirectUrl.call(inner, digest));
    if (openFile !== undefined) this.openFile = (digest) => faults.run(() => openFile.call(inner, digest));
    if (close !== undefined) this.close = () => close.call(inner);
  }

  stat(digest: string): Promise<{ size: number } | undefined> {
    return this.faults.run(() => this.inner.stat(digest));
  }

  read(digest: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    return this.faults.run(() => this.inner.read(digest, range, signal));
  }

  delete(digest: string): Promise<void> {
    return this.faults.run(() => this.inner.delete(digest));
  }

  startUpload(uploadId: string): Promise<void> {
    return this.faults.run(() => this.inner.startUpload(uploadId));
  }

  appendUpload(uploadId: string, offset: number, body: Readable, signal?: AbortSignal): Promise<number> {
    return this.faults.run(() => this.inner.appendUpload(uploadId, offset, body, signal));
  }

  truncateUpload(uploadId: string, size: number): Promise<void> {
    return this.faults.run(() => this.inner.truncateUpload(uploadId, size));
  }

  uploadSize(uploadId: string): Promise<number> {
    return this.faults.run(() => this.inner.uploadSize(uploadId));
  }

  commitUpload(uploadId: string, digest: string): Promise<void> {
    return this.faults.run(() => this.inner.commitUpload(uploadId, digest));
  }

  abortUpload(uploadId: string): Promise<void> {
    return this.faults.run(() => this.inner.abortUpload(uploadId));
  }

  listStaleUploads(before: Date): Promise<string[]> {
    return this.faults.run(() => this.inner.listStaleUploads(before));
  }

  ping(): Promise<void> {
    return this.faults.run(() => this.inner.ping());
  }
}
