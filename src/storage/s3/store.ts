import { addAbortSignal, Readable } from 'node:stream';
import {
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  BlobNotFoundError,
  UploadNotFoundError,
  UploadOffsetError,
  type BlobStore,
  type ByteRange,
} from '../blob-store.js';
import { VERIFY_MARKER_CONTENT, VERIFY_MARKER_NAME } from '../driver.js';
import { BLOB_CONTENT_TYPE, Bucket } from './bucket.js';
import { createS3Client } from './client.js';
import { isAccessDenied, isInvalidRange, isNotFound, S3Faults } from './errors.js';
import { checkUploadId, KeyLayout } from './keys.js';
import type { S3StoreOptions } from './options.js';
import { PartBuffers } from './part-buffers.js';
import { writeParts } from './part-writer.js';
import { planCopy, planTruncate } from './parts.js';
import { sameS3Service } from './same-service.js';
import { parseStateMetadata, stateMetadata, type UploadState } from './upload-state.js';

export interface S3StoreContext {
  readonly location: string;
  readonly extraCa: readonly string[];
  readonly now: () => number;
}

function checkRange(range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`invalid byte range ${start}-${end}`);
  }
}

/** The state and tail of an upload, as read from its state object. */
interface LoadedState extends UploadState {
  tail: Buffer;
}

/**
 * A BlobStore on an S3 bucket (AWS, or any S3-compatible service: GCS's XML API, Ceph RadosGW, Swift's
 * s3api). Uploads are multipart uploads on a temporary key whose state lives in the bucket (see
 * upload-state.ts), so any instance can take the next chunk; commits are server-side copies.
 */
export class S3BlobStore implements BlobStore {
  readonly kind: string;
  private readonly keys: KeyLayout;
  private readonly bucket: Bucket;
  private readonly faults: S3Faults;
  /** Uploads with an append in flight in this process: a truncation cannot know their size yet. */
  private readonly appending = new Set<string>();
  /** Part buffers reused by this store's appends (part-buffers.ts says why). */
  readonly partBuffers: PartBuffers;

  constructor(
    private readonly options: S3StoreOptions,
    private readonly context: S3StoreContext,
  ) {
    this.kind = options.kind;
    this.bucket = new Bucket(createS3Client(options, context.extraCa), options.bucket, options.longRequestTimeoutMs);
    this.keys = new KeyLayout(options.storagePath);
    this.partBuffers = new PartBuffers(options.partBytes);
    const where = options.endpoint ?? `AWS ${options.region}`;
    this.faults = new S3Faults(`${options.kind} bucket ${options.bucket} at ${where} (location ${context.location})`, context.now);
  }

  // ---- committed blobs ----

  stat(digest: string): Promise<{ size: number } | undefined> {
    return this.faults.run(async () => {
      const size = await this.bucket.headSize(this.keys.blob(digest));
      return size === undefined ? undefined : { size };
    });
  }

  read(digest: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    return this.faults.run(async () => {
      const key = this.keys.blob(digest);
      if (range !== undefined) checkRange(range);
      try {
        const response = await this.bucket.client.send(
          new GetObjectCommand({
            Bucket: this.bucket.name,
            Key: key,
            ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end}` }),
          }),
          signal === undefined ? {} : { abortSignal: signal },
        );
        if (!(response.Body instanceof Readable)) throw new Error(`GET ${key} answered without a body stream`);
        return signal === undefined ? response.Body : addAbortSignal(signal, response.Body);
      } catch (error) {
        if (isNotFound(error)) throw new BlobNotFoundError(digest);
        if (range !== undefined && isInvalidRange(error)) {
          throw new RangeError(`byte range ${range.start}-${range.end} starts beyond the blob's end`);
        }
        throw error;
      }
    });
  }

  redirectUrl(digest: string): Promise<string | undefined> {
    return this.faults.run(async () => {
      const command = new GetObjectCommand({ Bucket: this.bucket.name, Key: this.keys.blob(digest) });
      return getSignedUrl(this.bucket.client, command, {
        expiresIn: this.options.redirectExpirySeconds,
        signingDate: new Date(this.context.now()),
      });
    });
  }

  delete(digest: string): Promise<void> {
    return this.faults.run(() => this.bucket.deleteKey(this.keys.blob(digest)));
  }

  /**
   * Server-side copy from another S3 store of the same service and credentials (same-service.ts): one
   * CopyObject, or UploadPartCopy in ranges above 5 GiB. False for any other pair, or when this store's
   * credentials may not read the source bucket, so the caller streams.
   */
  copyBlobFrom(source: BlobStore, digest: string): Promise<boolean> {
    if (!(source instanceof S3BlobStore) || !sameS3Service(this.options, source.options)) return Promise.resolve(false);
    return this.faults.run(async () => {
      const from = source.keys.blob(digest);
      const to = this.keys.blob(digest);
      if ((await this.bucket.headSize(to)) !== undefined) return true;
      let size = 0;
      try {
        size = await this.bucket.client.send(new HeadObjectCommand({ Bucket: source.bucket.name, Key: from })).then((head) => head.ContentLength ?? 0);
      } catch (error) {
        if (isNotFound(error)) throw new BlobNotFoundError(digest);
        if (isAccessDenied(error)) return false;
        throw error;
      }
      try {
        await this.copyAssembled(from, to, size, source.bucket.name);
        return true;
      } catch (error) {
        if (isAccessDenied(error)) return false;
        throw error;
      }
    });
  }

  // ---- uploads ----

  startUpload(uploadId: string): Promise<void> {
    return this.faults.run(() => this.putState(uploadId, { multipartId: '', parts: 0, partBytes: 0 }, Buffer.alloc(0)));
  }

  uploadSize(uploadId: string): Promise<number> {
    return this.faults.run(async () => {
      const key = this.keys.uploadState(uploadId);
      try {
        const head = await this.bucket.client.send(new HeadObjectCommand({ Bucket: this.bucket.name, Key: key }));
        return parseStateMetadata(head.Metadata, key).partBytes + (head.ContentLength ?? 0);
      } catch (error) {
        if (isNotFound(error)) throw new UploadNotFoundError(uploadId);
        throw error;
      }
    });
  }

  appendUpload(uploadId: string, offset: number, body: Readable, signal?: AbortSignal): Promise<number> {
    return this.faults.run(async () => {
      checkUploadId(uploadId);
      signal?.throwIfAborted();
      const state = await this.loadState(uploadId, signal);
      const size = state.partBytes + state.tail.length;
      if (offset !== size) throw new UploadOffsetError(uploadId, offset, size);
      this.appending.add(uploadId);
      try {
        let multipartId = state.multipartId;
        const written = await writeParts({
          body,
          prefix: state.tail,
          partBytes: this.options.partBytes,
          firstPartNumber: state.parts + 1,
          signal,
          buffers: this.partBuffers,
          upload: async (partNumber, bytes, partSignal) => {
            if (multipartId === '') multipartId = await this.findOrCreateMultipart(uploadId);
            await this.bucket.client.send(
              new UploadPartCommand({
                Bucket: this.bucket.name,
                Key: this.keys.uploadData(uploadId),
                UploadId: multipartId,
                PartNumber: partNumber,
                Body: bytes,
                ContentLength: bytes.length,
              }),
              partSignal === undefined ? {} : { abortSignal: partSignal },
            );
          },
        });
        if (written.bodyBytes === 0) return size;
        const next: UploadState = {
          multipartId,
          parts: state.parts + written.partSizes.length,
          partBytes: state.partBytes + written.partSizes.reduce((sum, bytes) => sum + bytes, 0),
        };
        // Keep the state before this append: truncateUpload may have to step back to it.
        await this.bucket.copy(this.keys.uploadState(uploadId), this.keys.uploadPrevious(uploadId));
        await this.putState(uploadId, next, written.tail);
        return next.partBytes + written.tail.length;
      } finally {
        this.appending.delete(uploadId);
      }
    });
  }

  truncateUpload(uploadId: string, size: number): Promise<void> {
    return this.faults.run(async () => {
      checkUploadId(uploadId);
      const state = await this.loadState(uploadId);
      const total = state.partBytes + state.tail.length;
      if (this.appending.has(uploadId) || !Number.isSafeInteger(size) || size < 0 || size > total) {
        throw new UploadOffsetError(uploadId, size, total);
      }
      if (size === total) return;
      if (size >= state.partBytes) {
        // The cut falls in the staged tail: the parts stay, the tail gets shorter.
        await this.putState(uploadId, state, state.tail.subarray(0, size - state.partBytes));
        return;
      }
      const partSizes = (await this.listCountedParts(uploadId, state)).map((part) => part.Size ?? 0);
      const plan = planTruncate({ partSizes, tailBytes: state.tail.length }, size, await this.previousSize(uploadId, state));
      if (plan.kind === 'impossible') throw new UploadOffsetError(uploadId, size, total);
      if (plan.kind === 'previous') {
        await this.bucket.copy(this.keys.uploadPrevious(uploadId), this.keys.uploadState(uploadId));
        return;
      }
      const kept = partSizes.slice(0, plan.parts).reduce((sum, bytes) => sum + bytes, 0);
      await this.putState(uploadId, { multipartId: state.multipartId, parts: plan.parts, partBytes: kept }, Buffer.alloc(0));
    });
  }

  commitUpload(uploadId: string, digest: string): Promise<void> {
    return this.faults.run(async () => {
      checkUploadId(uploadId);
      const blobKey = this.keys.blob(digest);
      const state = await this.loadState(uploadId);
      if ((await this.bucket.headSize(blobKey)) !== undefined) {
        await this.dropUpload(uploadId);
        return;
      }
      const total = state.partBytes + state.tail.length;
      if (state.parts === 0) {
        // The whole blob is the staged tail: the state object itself is copied (without its metadata).
        await this.bucket.copy(this.keys.uploadState(uploadId), blobKey, { asBlob: true });
      } else {
        await this.completeMultipart(uploadId, state, total);
        await this.copyAssembled(this.keys.uploadData(uploadId), blobKey, total);
      }
      await this.dropUpload(uploadId);
    });
  }

  abortUpload(uploadId: string): Promise<void> {
    return this.faults.run(() => this.dropUpload(uploadId));
  }

  listStaleUploads(before: Date): Promise<string[]> {
    return this.faults.run(async () => {
      const newest = new Map<string, number>();
      const note = (uploadId: string, when: Date | undefined): void => {
        const time = when?.getTime() ?? 0;
        newest.set(uploadId, Math.max(newest.get(uploadId) ?? 0, time));
      };
      for await (const object of this.bucket.listObjects(this.keys.uploadsPrefix)) {
        const parsed = this.keys.parseUploadKey(object.Key ?? '');
        if (parsed !== undefined) note(parsed.uploadId, object.LastModified);
      }
      // Multipart uploads left without a state object (a process killed mid-abort) are purged too.
      for await (const upload of this.bucket.listMultipartUploads(this.keys.uploadsPrefix)) {
        const parsed = this.keys.parseUploadKey(upload.Key ?? '');
        if (parsed !== undefined) note(parsed.uploadId, upload.Initiated);
      }
      const cutoff = before.getTime();
      return [...newest].filter(([, time]) => time < cutoff).map(([uploadId]) => uploadId);
    });
  }

  async ping(): Promise<void> {
    return this.faults.run(async () => {
      const key = this.keys.verifyMarker(VERIFY_MARKER_NAME);
      await this.bucket.client.send(
        new PutObjectCommand({ Bucket: this.bucket.name, Key: key, Body: VERIFY_MARKER_CONTENT, ContentLength: Buffer.byteLength(VERIFY_MARKER_CONTENT) }),
      );
      const response = await this.bucket.client.send(new GetObjectCommand({ Bucket: this.bucket.name, Key: key }));
      const content = (await response.Body?.transformToString()) ?? '';
      if (content !== VERIFY_MARKER_CONTENT) {
        throw new Error(`${key} in bucket ${this.bucket.name} reads back ${JSON.stringify(content.slice(0, 40))}, not ${JSON.stringify(VERIFY_MARKER_CONTENT)}`);
      }
    });
  }

  async close(): Promise<void> {
    this.bucket.client.destroy();
  }

  // ---- helpers ----

  private async putState(uploadId: string, state: UploadState, tail: Buffer): Promise<void> {
    await this.bucket.client.send(
      new PutObjectCommand({
        Bucket: this.bucket.name,
        Key: this.keys.uploadState(uploadId),
        Body: tail,
        ContentLength: tail.length,
        Metadata: stateMetadata(state),
      }),
    );
  }

  private async loadState(uploadId: string, signal?: AbortSignal): Promise<LoadedState> {
    const key = this.keys.uploadState(uploadId);
    try {
      const response = await this.bucket.client.send(new GetObjectCommand({ Bucket: this.bucket.name, Key: key }), signal === undefined ? {} : { abortSignal: signal });
      const bytes = (await response.Body?.transformToByteArray()) ?? new Uint8Array(0);
      // A view, not a copy: the tail may be up to 5 MiB.
      const tail = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return { ...parseStateMetadata(response.Metadata, key), tail };
    } catch (error) {
      if (isNotFound(error)) throw new UploadNotFoundError(uploadId);
      throw error;
    }
  }

  /** The size recorded by the state before the last append, when it is of the same multipart upload. */
  private async previousSize(uploadId: string, state: UploadState): Promise<number | undefined> {
    const key = this.keys.uploadPrevious(uploadId);
    try {
      const head = await this.bucket.client.send(new HeadObjectCommand({ Bucket: this.bucket.name, Key: key }));
      const previous = parseStateMetadata(head.Metadata, key);
      if (previous.multipartId !== '' && previous.multipartId !== state.multipartId) return undefined;
      if (previous.parts > state.parts) return undefined;
      return previous.partBytes + (head.ContentLength ?? 0);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** The upload's multipart upload: one left by an earlier append that failed, or a new one. */
  private async findOrCreateMultipart(uploadId: string): Promise<string> {
    const key = this.keys.uploadData(uploadId);
    for await (const upload of this.bucket.listMultipartUploads(key)) {
      if (upload.Key === key && upload.UploadId !== undefined) return upload.UploadId;
    }
    const created = await this.bucket.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket.name, Key: key, ContentType: BLOB_CONTENT_TYPE }),
    );
    if (created.UploadId === undefined) throw new Error(`CreateMultipartUpload of ${key} answered no UploadId`);
    return created.UploadId;
  }

  /** Parts 1..state.parts with their ETags and sizes; throws when one is missing. */
  private async listCountedParts(uploadId: string, state: UploadState): Promise<{ PartNumber?: number; ETag?: string; Size?: number }[]> {
    const key = this.keys.uploadData(uploadId);
    const counted: { PartNumber?: number; ETag?: string; Size?: number }[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await this.bucket.client.send(
        new ListPartsCommand({ Bucket: this.bucket.name, Key: key, UploadId: state.multipartId, ...(marker === undefined ? {} : { PartNumberMarker: marker }) }),
      );
      for (const part of page.Parts ?? []) {
        if ((part.PartNumber ?? 0) <= state.parts) counted.push(part);
      }
      if (page.IsTruncated !== true || page.NextPartNumberMarker === undefined || page.NextPartNumberMarker === marker) break;
      marker = page.NextPartNumberMarker;
      if (Number(marker) >= state.parts) break;
    }
    counted.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    const bytes = counted.reduce((sum, part) => sum + (part.Size ?? 0), 0);
    if (counted.length !== state.parts || counted.some((part, i) => part.PartNumber !== i + 1) || bytes !== state.partBytes) {
      throw new Error(`upload ${uploadId}: the multipart upload holds ${counted.length} of ${state.parts} parts (${bytes} of ${state.partBytes} bytes)`);
    }
    return counted;
  }

  /** Uploads the tail as the last part and completes the multipart upload at the upload's data key. */
  private async completeMultipart(uploadId: string, state: LoadedState, total: number): Promise<void> {
    const key = this.keys.uploadData(uploadId);
    let parts: CompletedPart[];
    try {
      parts = (await this.listCountedParts(uploadId, state)).map((part) => ({ PartNumber: part.PartNumber, ETag: part.ETag }));
    } catch (error) {
      // A commit killed after CompleteMultipartUpload left the assembled object: go on from there.
      if (isNotFound(error) && (await this.bucket.headSize(key)) === total) return;
      throw error;
    }
    if (state.tail.length > 0) {
      const last = await this.bucket.client.send(
        new UploadPartCommand({
          Bucket: this.bucket.name,
          Key: key,
          UploadId: state.multipartId,
          PartNumber: state.parts + 1,
          Body: state.tail,
          ContentLength: state.tail.length,
        }),
      );
      parts.push({ PartNumber: state.parts + 1, ETag: last.ETag });
    }
    await this.bucket.complete(key, state.multipartId, parts);
  }

  /** Copies the assembled upload to its blob key, server-side: one CopyObject, or a multipart copy above 5 GiB. */
  private async copyAssembled(from: string, to: string, size: number, fromBucket = this.bucket.name): Promise<void> {
    const plan = planCopy(size, {
      multipartCopy: this.options.multipartCopy,
      maxPartBytes: this.options.maxCopyPartBytes,
      ...(this.options.singleCopyLimitBytes === undefined ? {} : { singleCopyLimitBytes: this.options.singleCopyLimitBytes }),
    });
    if (plan.kind === 'single') await this.bucket.copy(from, to, { asBlob: true, fromBucket });
    else await this.bucket.copyInRanges(from, to, plan.parts, fromBucket);
  }

  /** Removes everything of an upload: the state first (so it is gone at once), then parts and objects. */
  private async dropUpload(uploadId: string): Promise<void> {
    const dataKey = this.keys.uploadData(uploadId);
    await this.bucket.deleteKey(this.keys.uploadState(uploadId));
    await this.bucket.abortMultiparts(dataKey);
    await this.bucket.deleteKey(this.keys.uploadPrevious(uploadId));
    await this.bucket.deleteKey(dataKey);
  }
}
