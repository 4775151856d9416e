import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { isNotFound } from './errors.js';
import type { CopyPart } from './parts.js';

/** Parallel UploadPartCopy calls of one multipart copy. */
const COPY_CONCURRENCY = 4;
export const BLOB_CONTENT_TYPE = 'application/octet-stream';

/**
 * The bucket-level operations the store is built from: existence, idempotent deletes, server-side copies
 * (whole or in ranges), and the paginated listings of objects and multipart uploads under a prefix.
 */
export class Bucket {
  constructor(
    readonly client: S3Client,
    readonly name: string,
    /** Time to the response's headers of calls that make the server copy or assemble a whole blob. */
    private readonly longRequestTimeoutMs: number,
  ) {}

  /** The object's size, or undefined when there is none. */
  async headSize(key: string): Promise<number | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: key }));
      return head.ContentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Deletes one key; an absent key is not an error. (No DeleteObjects: Swift's s3api wants a Content-MD5 on it.) */
  async deleteKey(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key }));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  private copySource(key: string, bucket: string): string {
    return `${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  /**
   * One server-side CopyObject; `asBlob` drops the source's metadata (an upload state's) for a plain blob;
   * `fromBucket` copies from another bucket of the same service (geo-replication), this one by default.
   */
  async copy(from: string, to: string, options: { asBlob?: boolean; fromBucket?: string } = {}): Promise<void> {
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.name,
        Key: to,
        CopySource: this.copySource(from, options.fromBucket ?? this.name),
        ...(options.asBlob === true ? { MetadataDirective: 'REPLACE', ContentType: BLOB_CONTENT_TYPE, Metadata: {} } : {}),
      }),
      { requestTimeout: this.longRequestTimeoutMs },
    );
  }

  /** A server-side multipart copy of `from` in the ranges of `parts`; nothing is left behind when it fails. */
  async copyInRanges(from: string, to: string, parts: readonly CopyPart[], fromBucket = this.name): Promise<void> {
    const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.name, Key: to, ContentType: BLOB_CONTENT_TYPE }));
    const copyId = created.UploadId;
    if (copyId === undefined) throw new Error(`CreateMultipartUpload of ${to} answered no UploadId`);
    try {
      const completed: CompletedPart[] = new Array(parts.length);
      const queue = [...parts];
      const copyOne = async (part: CopyPart): Promise<void> => {
        const answer = await this.client.send(
          new UploadPartCopyCommand({
            Bucket: this.name,
            Key: to,
            UploadId: copyId,
            PartNumber: part.partNumber,
            CopySource: this.copySource(from, fromBucket),
            CopySourceRange: `bytes=${part.start}-${part.end}`,
          }),
          { requestTimeout: this.longRequestTimeoutMs },
        );
        completed[part.partNumber - 1] = { PartNumber: part.partNumber, ETag: answer.CopyPartResult?.ETag };
      };
      await Promise.all(
        Array.from({ length: Math.min(COPY_CONCURRENCY, queue.length) }, async () => {
          for (let part = queue.shift(); part !== undefined; part = queue.shift()) await copyOne(part);
        }),
      );
      await this.complete(to, copyId, completed);
    } catch (error) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.name, Key: to, UploadId: copyId })).catch(() => undefined);
      throw error;
    }
  }

  /** CompleteMultipartUpload with exactly `parts` (parts not named are discarded by the server). */
  async complete(key: string, uploadId: string, parts: CompletedPart[]): Promise<void> {
    await this.client.send(
      new CompleteMultipartUploadCommand({ Bucket: this.name, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
      { requestTimeout: this.longRequestTimeoutMs },
    );
  }

  /** Aborts every multipart upload on exactly `key`. */
  async abortMultiparts(key: string): Promise<void> {
    for await (const upload of this.listMultipartUploads(key)) {
      if (upload.Key !== key || upload.UploadId === undefined) continue;
      try {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.name, Key: key, UploadId: upload.UploadId }));
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }

  /** Objects under a prefix (ListObjects v1: GCS has no v2). */
  async *listObjects(prefix: string): AsyncGenerator<{ Key?: string; LastModified?: Date }> {
    let marker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListObjectsCommand({ Bucket: this.name, Prefix: prefix, ...(marker === undefined ? {} : { Marker: marker }) }),
      );
      const contents = page.Contents ?? [];
      yield* contents;
      const last = contents.at(-1)?.Key;
      if (page.IsTruncated !== true || last === undefined) return;
      marker = page.NextMarker ?? last;
    }
  }

  /** Multipart uploads in progress under a prefix. */
  async *listMultipartUploads(prefix: string): AsyncGenerator<{ Key?: string; UploadId?: string; Initiated?: Date }> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.name,
          Prefix: prefix,
          ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
          ...(uploadIdMarker === undefined ? {} : { UploadIdMarker: uploadIdMarker }),
        }),
      );
      yield* page.Uploads ?? [];
      if (page.IsTruncated !== true || page.NextKeyMarker === undefined) return;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }
}
