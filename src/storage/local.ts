import { randomUUID } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BlobNotFoundError,
  UploadNotFoundError,
  UploadOffsetError,
  type BlobFile,
  type BlobStore,
  type ByteRange,
} from './blob-store.js';
import { VERIFY_MARKER_CONTENT, VERIFY_MARKER_NAME } from './driver.js';
import { FaultClassifyingStore, StorageFaults } from './faults.js';

// Reads in 1 MiB chunks: with Node's default 64 KiB, a blob pull spends most of its CPU on per-chunk
// overhead (one read, one event-loop turn and one socket write per 64 KiB) and runs at half the speed.
const READ_CHUNK_BYTES = 1024 * 1024;
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * The local filesystem driver: `<root>/sha256/<2 hex>/<hex>` for blobs, `<root>/uploads/<id>` for uploads.
 * Every name a client can influence (digest, upload id) is checked against a strict pattern before it
 * becomes part of a path, so nothing a client sends can reach outside the root.
 */

const BLOB_DIGEST_RE = /^sha256:([0-9a-f]{64})$/;
/** Upload ids are UUIDs in practice; the pattern admits any short [A-Za-z0-9-] token but never '.', '/' or '\0'. */
const UPLOAD_ID_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;

/** The blob's path relative to a store root: `sha256/<first 2 hex>/<hex>`; throws on anything but sha256:<64 hex>. */
export function blobRelativePath(digest: string): string {
  const match = typeof digest === 'string' ? BLOB_DIGEST_RE.exec(digest) : null;
  if (match === null) throw new Error(`invalid blob digest ${JSON.stringify(String(digest)).slice(0, 100)}: expected sha256:<64 lowercase hex>`);
  const hex = match[1] as string;
  return path.join('sha256', hex.slice(0, 2), hex);
}

/** Throws unless the upload id is a short token of letters, digits and '-'. */
export function checkUploadId(uploadId: string): void {
  if (typeof uploadId !== 'string' || !UPLOAD_ID_RE.test(uploadId)) {
    throw new Error(`invalid upload id ${JSON.stringify(String(uploadId)).slice(0, 100)}: expected 1-64 letters, digits or '-'`);
  }
}

function isErrno(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

function checkRange(range: ByteRange, size: number): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`invalid byte range ${start}-${end}`);
  }
  if (start >= size) throw new RangeError(`byte range ${start}-${end} starts beyond the blob's ${size} bytes`);
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new TypeError('upload body must be a byte stream');
}

/** Writes all of `buffers` in order with one writev when it is not short (it rarely is). */
async function writeAllv(handle: FileHandle, buffers: Uint8Array[]): Promise<void> {
  const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
  const { bytesWritten } = await handle.writev(buffers);
  if (bytesWritten < total) await writeAll(handle, Buffer.concat(buffers).subarray(bytesWritten));
}

/** Writes all of `bytes`: a file write may be short, so loop until everything landed. */
async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
    done += bytesWritten;
  }
}

/** The filesystem operations themselves; LocalBlobStore below adds the classification of storage faults. */
class LocalFiles implements BlobStore {
  readonly kind = 'local';
  private readonly root: string;
  private readonly blobsDir: string;
  private readonly uploadsDir: string;
  private ready: Promise<void> | undefined;
  /** Uploads with an append in flight in this process: a second append cannot know the offset yet. */
  private readonly appending = new Set<string>();

  constructor(rootPath: string) {
    this.root = path.resolve(rootPath);
    this.blobsDir = path.join(this.root, 'sha256');
    this.uploadsDir = path.join(this.root, 'uploads');
  }

  /** Creates the root and its two folders once; a failed attempt is retried on the next call. */
  private ensureReady(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.blobsDir, { recursive: true });
      await mkdir(this.uploadsDir, { recursive: true });
    })().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  private blobPath(digest: string): string {
    return path.join(this.root, blobRelativePath(digest));
  }

  private uploadPath(uploadId: string): string {
    checkUploadId(uploadId);
    return path.join(this.uploadsDir, uploadId);
  }

  /** Size of a committed blob, or undefined when absent. */
  async stat(digest: string): Promise<{ size: number } | undefined> {
    const file = this.blobPath(digest);
    await this.ensureReady();
    try {
      const info = await stat(file);
      return info.isFile() ? { size: info.size } : undefined;
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
      throw error;
    }
  }

  /** Streams the blob or an inclusive range of it; the end of a range is clamped to the blob's size. */
  async read(digest: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const handle = await this.openBlob(digest);
    try {
      if (range) checkRange(range, (await handle.stat()).size);
      signal?.throwIfAborted();
    } catch (error) {
      await handle.close();
      throw error;
    }
    // Opening first and streaming from the handle means a concurrent delete cannot turn into a stream error.
    const stream = createReadStream('', { fd: handle, start: range?.start, end: range?.end, highWaterMark: READ_CHUNK_BYTES });
    return signal ? addAbortSignal(signal, stream) : stream;
  }

  /** The blob's file, opened for reading: what a zero-copy send (sendfile) reads from. */
  async openFile(digest: string): Promise<BlobFile> {
    const handle = await this.openBlob(digest);
    try {
      return { handle, size: (await handle.stat()).size };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** The blob's file opened for reading; BlobNotFoundError when it is not stored. */
  private async openBlob(digest: string): Promise<FileHandle> {
    const file = this.blobPath(digest);
    await this.ensureReady();
    try {
      return await open(file, 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) throw new BlobNotFoundError(digest);
      throw error;
    }
  }

  /** Removes a committed blob; absent is fine. */
  async delete(digest: string): Promise<void> {
    const file = this.blobPath(digest);
    await this.ensureReady();
    await rm(file, { force: true });
  }

  /** Creates the empty temporary object; refuses an id that is already in use. */
  async startUpload(uploadId: string): Promise<void> {
    const file = this.uploadPath(uploadId);
    await this.ensureReady();
    try {
      await (await open(file, 'wx')).close();
    } catch (error) {
      if (isErrno(error, 'EEXIST')) throw new Error(`upload ${uploadId} already exists in storage`);
      throw error;
    }
  }

  /**
   * Appends the body when `offset` equals the current size. On any failure (a body error, an abort, a full
   * disk) the file is truncated back to `offset`, so the upload is exactly as it was before the call.
   */
  async appendUpload(uploadId: string, offset: number, body: Readable, signal?: AbortSignal): Promise<number> {
    const file = this.uploadPath(uploadId);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`invalid upload offset ${offset}`);
    await this.ensureReady();
    signal?.throwIfAborted();
    if (this.appending.has(uploadId)) {
      body.destroy();
      throw new UploadOffsetError(uploadId, offset, await this.uploadSize(uploadId));
    }
    this.appending.add(uploadId);
    try {
      return await this.appendLocked(uploadId, file, offset, body, signal);
    } finally {
      this.appending.delete(uploadId);
    }
  }

  private async appendLocked(uploadId: string, file: string, offset: number, body: Readable, signal?: AbortSignal): Promise<number> {
    let handle: FileHandle;
    try {
      // Append without O_CREAT: an absent upload must stay absent, not become an empty one.
      handle = await open(file, constants.O_WRONLY | constants.O_APPEND);
    } catch (error) {
      body.destroy();
      if (isErrno(error, 'ENOENT')) throw new UploadNotFoundError(uploadId);
      throw error;
    }
    try {
      const size = (await handle.stat()).size;
      if (size !== offset) {
        body.destroy();
        throw new UploadOffsetError(uploadId, offset, size);
      }
      let written = 0;
      let inFlight: Promise<void> = Promise.resolve();
      try {
        await pipeline(
          body,
          async (source: AsyncIterable<unknown>) => {
            // Socket chunks (~64 KiB) are gathered into batches written with one writev, and the next batch
            // is read from the network while the previous one is written: one write in flight at a time, so
            // memory stays bounded by two batches whatever the blob size.
            let batch: Uint8Array[] = [];
            let batchBytes = 0;
            const flush = async () => {
              await inFlight;
              const buffers = batch;
              const bytes = batchBytes;
              batch = [];
              batchBytes = 0;
              inFlight = writeAllv(handle, buffers).then(() => {
                written += bytes;
              });
              // Marks the rejection handled until it is awaited (the next flush or the final await).
              inFlight.catch(() => undefined);
            };
            for await (const chunk of source) {
              const bytes = toBytes(chunk);
              batch.push(bytes);
              batchBytes += bytes.length;
              if (batchBytes >= WRITE_BATCH_BYTES) await flush();
            }
            if (batchBytes > 0) await flush();
            await inFlight;
          },
          signal ? { signal } : {},
        );
      } catch (error) {
        // pipeline may reject on abort while a write is still running; let it land, then cut it off.
        await inFlight.catch(() => undefined);
        await handle.truncate(offset);
        throw error;
      }
      return offset + written;
    } finally {
      await handle.close();
    }
  }

  /** Cuts the temporary object back to `size` (see UploadArea.truncateUpload). */
  async truncateUpload(uploadId: string, size: number): Promise<void> {
    const file = this.uploadPath(uploadId);
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid upload size ${size}`);
    await this.ensureReady();
    // An append in flight here is no crash leftover: its bytes are still arriving.
    if (this.appending.has(uploadId)) throw new UploadOffsetError(uploadId, size, await this.uploadSize(uploadId));
    let handle: FileHandle;
    try {
      handle = await open(file, 'r+');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new UploadNotFoundError(uploadId);
      throw error;
    }
    try {
      const current = (await handle.stat()).size;
      if (current < size) throw new UploadOffsetError(uploadId, size, current);
      if (current > size) await handle.truncate(size);
    } finally {
      await handle.close();
    }
  }

  /** Current size of the temporary object. */
  async uploadSize(uploadId: string): Promise<number> {
    const file = this.uploadPath(uploadId);
    await this.ensureReady();
    try {
      return (await stat(file)).size;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new UploadNotFoundError(uploadId);
      throw error;
    }
  }

  /**
   * fsync, then rename into place: a crash leaves either no blob or the whole blob, never a partial one.
   * When the blob is already there (same digest, so same bytes) the temporary object is dropped instead.
   */
  async commitUpload(uploadId: string, digest: string): Promise<void> {
    const source = this.uploadPath(uploadId);
    const target = this.blobPath(digest);
    await this.ensureReady();
    let handle: FileHandle;
    try {
      handle = await open(source, 'r+');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new UploadNotFoundError(uploadId);
      throw error;
    }
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (await this.stat(digest)) {
      await rm(source, { force: true });
      return;
    }
    const shard = path.dirname(target);
    await mkdir(shard, { recursive: true });
    // Two commits of one digest may both get here; rename replaces atomically and the bytes are equal.
    await rename(source, target);
    await syncDirectory(shard);
  }

  /** Removes the temporary object; absent is fine. */
  async abortUpload(uploadId: string): Promise<void> {
    const file = this.uploadPath(uploadId);
    await this.ensureReady();
    await rm(file, { force: true });
  }

  /** Upload ids whose file was last modified before `before`. */
  async listStaleUploads(before: Date): Promise<string[]> {
    await this.ensureReady();
    const stale: string[] = [];
    for (const name of await readdir(this.uploadsDir)) {
      if (!UPLOAD_ID_RE.test(name)) continue;
      try {
        const info = await stat(path.join(this.uploadsDir, name));
        if (info.isFile() && info.mtime.getTime() < before.getTime()) stale.push(name);
      } catch (error) {
        // Committed or aborted between readdir and stat: no longer an upload.
        if (!isErrno(error, 'ENOENT')) throw error;
      }
    }
    return stale.sort();
  }

  /**
   * Quay's validation: writes `<root>/_verify` with `testing 123` and reads it back (the marker stays, as Quay
   * leaves it). It is written beside and renamed over, so concurrent checks never read a half-written marker.
   */
  async ping(): Promise<void> {
    await this.ensureReady();
    const marker = path.join(this.root, VERIFY_MARKER_NAME);
    const staging = path.join(this.root, `.${VERIFY_MARKER_NAME}-${randomUUID()}`);
    try {
      await writeFile(staging, VERIFY_MARKER_CONTENT, { flag: 'wx' });
      await rename(staging, marker);
    } finally {
      await rm(staging, { force: true });
    }
    const back = await readFile(marker, 'utf8');
    if (back !== VERIFY_MARKER_CONTENT) {
      throw new Error(`local storage at ${this.root}: ${VERIFY_MARKER_NAME} reads back ${JSON.stringify(back.slice(0, 40))}, not ${JSON.stringify(VERIFY_MARKER_CONTENT)}`);
    }
  }
}

/**
 * The local filesystem driver as the registry uses it: a read-only mount, a permission problem or a full disk
 * surfaces as a StorageFaultError (see faults.ts), not as a bare errno error.
 */
export class LocalBlobStore extends FaultClassifyingStore {
  constructor(rootPath: string, options: { now?: () => number } = {}) {
    super(new LocalFiles(rootPath), new StorageFaults(`local storage at ${path.resolve(rootPath)}`, options.now));
  }
}

/** Makes a rename durable; some platforms cannot fsync a directory, which is then only best effort. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    if (!isErrno(error, 'EISDIR', 'EINVAL', 'EPERM', 'EBADF')) throw error;
  } finally {
    await handle?.close();
  }
}
