import { createHash, type Hash } from 'node:crypto';
import type { BlobStore } from '../storage/blob-store.js';
import { RegistryError } from './errors.js';

/*
 * Digest while streaming, across chunks and instances.
 *
 * The sha256 of an upload is computed as its bytes pass from the request into storage (a tap in the
 * pipeline, see body.ts), so a commit never re-reads bytes this process streamed itself. An upload,
 * however, is a database row plus a temporary object, and its next chunk may land on any instance.
 * Quay keeps a serialized hash state in the upload row for that; Node's crypto Hash cannot be
 * serialized, so each process keeps its own cache instead:
 *
 *   upload id -> { hash, size }   (hash state after exactly `size` bytes, stored after each chunk)
 *
 * When a chunk arrives and the cached size equals the size in the database (the source of truth,
 * advanced by compare-and-set), this process took every earlier byte and the hash simply continues.
 * Otherwise (another instance took chunks, this process restarted, or the entry was evicted) the
 * temporary object is read back from storage and hashed once; hashing then continues from there.
 * A round-robin balancer over several instances therefore costs one re-read per instance switch,
 * which is correct though not free; sticky routing of upload URLs avoids it.
 *
 * A hash is taken OUT of the cache while a chunk streams: a failed or aborted chunk leaves the hash
 * dirty (it saw bytes that the driver truncated away), so it is simply dropped, and the next chunk
 * re-hashes from storage. The cache is a bounded LRU; entries are removed on commit, cancel and purge.
 * The composition root builds one cache per app and passes it in (RegistryDeps.uploadHashes): two apps
 * in one process over the same storage behave like two instances.
 */

/** Default number of uploads whose hash state one process keeps. */
export const DEFAULT_HASH_CACHE_ENTRIES = 1000;

interface CachedHash {
  hash: Hash;
  size: number;
}

/** Per-process hash states of uploads in one blob store. */
export class UploadHasher {
  private readonly entries = new Map<string, CachedHash>();

  constructor(
    private readonly blobs: BlobStore,
    private readonly capacity = DEFAULT_HASH_CACHE_ENTRIES,
  ) {}

  /** Number of cached hash states (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The sha256 state after the first `size` bytes of the upload: taken from the cache when it is at
   * exactly that size, else computed by reading the temporary object from storage. The caller owns
   * the returned hash until it calls `store` again.
   */
  async resume(uploadId: string, size: number, signal?: AbortSignal): Promise<Hash> {
    const cached = this.entries.get(uploadId);
    this.entries.delete(uploadId);
    if (cached !== undefined && cached.size === size) return cached.hash;
    return this.rehash(uploadId, size, signal);
  }

  /** Keeps the hash state after `size` bytes for the next chunk; evicts the least recently used entry. */
  store(uploadId: string, hash: Hash, size: number): void {
    this.entries.delete(uploadId);
    this.entries.set(uploadId, { hash, size });
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }

  /** Drops the state of an upload (committed, cancelled or purged). */
  forget(uploadId: string): void {
    this.entries.delete(uploadId);
  }

  /** Drops every state, as a restart would. */
  clear(): void {
    this.entries.clear();
  }

  private async rehash(uploadId: string, size: number, signal?: AbortSignal): Promise<Hash> {
    const hash = createHash('sha256');
    if (size === 0) return hash;
    const stream = await this.blobs.readUpload(uploadId, signal);
    let read = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      read += chunk.length;
      // More bytes than the database admits means a chunk was written but never recorded (a crash
      // between append and compare-and-set): the object can no longer be appended to consistently.
      if (read > size) break;
      hash.update(chunk);
    }
    if (read !== size) {
      throw new RegistryError(
        'BLOB_UPLOAD_INVALID',
        'upload data in storage does not match the recorded upload state; restart the upload',
        { recordedSize: size, storedSize: read > size ? `more than ${size}` : read },
      );
    }
    return hash;
  }
}
