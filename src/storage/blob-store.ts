import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/**
 * The storage contract every driver (local, S3, Swift) implements and every driver passes
 * one conformance suite for (test/storage/conformance.ts). Drivers are dumb byte stores:
 * digests are computed and verified by the caller; a driver never sees a hash.
 * Blobs live at `sha256/<first 2 hex>/<hex>`; uploads are temporary objects keyed by upload id.
 */

/** An inclusive byte range, as in HTTP Range. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * A committed blob as an open file of the local filesystem, for zero-copy sends (sendfile(2),
 * src/http/file-body.ts). The caller owns the handle and closes it.
 */
export interface BlobFile {
  handle: FileHandle;
  /** The file's size when it was opened. */
  size: number;
}

/** Reading committed, content-addressed blobs. */
export interface BlobReader {
  /** Size of a committed blob, or undefined when this store does not hold it. */
  stat(digest: string): Promise<{ size: number } | undefined>;
  /** A stream of the blob (or of the range). Rejects with BlobNotFoundError when absent. */
  read(digest: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable>;
  /** A URL the client may be redirected to for this blob, when the driver supports it; else undefined. */
  redirectUrl?(digest: string): Promise<string | undefined>;
  /**
   * Optional, for stores that keep blobs in local files: the blob opened for reading, or undefined when this
   * store cannot hand out a file for it (then read() streams it). Rejects with BlobNotFoundError when absent.
   */
  openFile?(digest: string): Promise<BlobFile | undefined>;
}

/** Removing committed blobs (garbage collection, blob DELETE of the last link). */
export interface BlobRemover {
  /** Idempotent: deleting an absent blob is not an error. */
  delete(digest: string): Promise<void>;
}

/**
 * Temporary upload objects. Appends are strictly sequential: `offset` must equal the current size,
 * so that any instance may take the next chunk of an upload whose state lives in the database. They are
 * write-only: the digest state is kept with the upload's row, so nothing ever reads an upload back.
 */
export interface UploadArea {
  /** Create an empty temporary object for the upload. */
  startUpload(uploadId: string): Promise<void>;
  /** Append the body at `offset`; resolves with the new total size. Rejects with UploadOffsetError on mismatch. */
  appendUpload(uploadId: string, offset: number, body: Readable, signal?: AbortSignal): Promise<number>;
  /**
   * Cuts the temporary object back to `size` bytes: the bytes an append killed mid-chunk left beyond the
   * size the database recorded. Rejects with UploadNotFoundError when absent, and with UploadOffsetError when
   * the object holds fewer bytes or an append to it is in flight in this process.
   */
  truncateUpload(uploadId: string, size: number): Promise<void>;
  /** Current size of the temporary object; rejects with UploadNotFoundError when absent. */
  uploadSize(uploadId: string): Promise<number>;
  /**
   * Move the temporary object to its content address atomically. If the blob already exists the
   * temporary object is simply removed (concurrent pushes of the same blob both succeed).
   */
  commitUpload(uploadId: string, digest: string): Promise<void>;
  /** Remove the temporary object; idempotent. */
  abortUpload(uploadId: string): Promise<void>;
  /** Upload ids whose temporary objects were last written before `before` (for the purge worker). */
  listStaleUploads(before: Date): Promise<string[]>;
}

/** A whole driver. */
export interface BlobStore extends BlobReader, BlobRemover, UploadArea {
  /** A short name for logs and health output ("local", "s3", "swift"). */
  readonly kind: string;
  /**
   * Optional: copies a committed blob from `source` (another location's store) into this store server-side,
   * without the bytes passing through Quayside. Resolves false when this pair of stores cannot copy
   * server-side (another service, other credentials): the caller then streams the blob instead. Geo-replication
   * (src/workers/replication.ts) verifies the copy's size and digest either way.
   */
  copyBlobFrom?(source: BlobStore, digest: string): Promise<boolean>;
  /** Resolves when the store can be written and read; used by /health. */
  ping(): Promise<void>;
  close?(): Promise<void>;
  /**
   * Copies the committed blob from `source` to this store server-side when possible; resolves false when
   * this pair cannot (different service, endpoint or credentials), so the caller streams instead.
   */
  copyBlobFrom?(source: BlobStore, digest: string): Promise<boolean>;
}

export class BlobNotFoundError extends Error {
  constructor(readonly digest: string) {
    super(`blob ${digest} not found in storage`);
    this.name = 'BlobNotFoundError';
  }
}

export class UploadNotFoundError extends Error {
  constructor(readonly uploadId: string) {
    super(`upload ${uploadId} not found in storage`);
    this.name = 'UploadNotFoundError';
  }
}

export class UploadOffsetError extends Error {
  constructor(readonly uploadId: string, readonly expected: number, readonly actual: number) {
    super(`upload ${uploadId}: append at offset ${expected} but object holds ${actual} bytes`);
    this.name = 'UploadOffsetError';
  }
}
