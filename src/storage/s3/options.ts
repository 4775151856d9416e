/** Everything an S3 store needs, whichever Quay driver name and parameters it came from. */
export interface S3StoreOptions {
  /** A short name for logs and health output. */
  readonly kind: 's3' | 'gcs' | 'radosgw';
  readonly bucket: string;
  /** The location's storage_path; blobs and uploads live under it. */
  readonly storagePath: string;
  /** The service's URL; undefined means AWS S3's own endpoint for `region`. */
  readonly endpoint: string | undefined;
  readonly region: string;
  /** Bucket in the path (custom endpoints) rather than in the host name (AWS). */
  readonly forcePathStyle: boolean;
  /** Follow S3's redirect to the bucket's real region (AWS without an explicit region). */
  readonly followRegionRedirects: boolean;
  /** Static keys; undefined means the standard AWS credential chain (environment, profile, instance role). */
  readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  /** Size of the parts an upload's body is cut into and buffered as (>= 5 MiB). */
  readonly partBytes: number;
  /** Largest part of a server-side multipart copy (commit of a blob above 5 GiB). */
  readonly maxCopyPartBytes: number;
  /** Whether a commit may use UploadPartCopy; when false, one CopyObject whatever the size. */
  readonly multipartCopy: boolean;
  /** Biggest blob a commit copies with one CopyObject (S3's limit, 5 GiB; lower only in tests). */
  readonly singleCopyLimitBytes?: number;
  readonly connectTimeoutMs: number;
  /** Time to the response's headers for ordinary calls, and idle time of a streaming body. */
  readonly requestTimeoutMs: number;
  /** Time to the response's headers of calls that make the server copy a whole blob. */
  readonly longRequestTimeoutMs: number;
  /** Attempts of each call (the SDK retries transient failures with exponential backoff and jitter). */
  readonly maxAttempts: number;
  /** Lifetime of a presigned blob URL. */
  readonly redirectExpirySeconds: number;
}

export const DEFAULT_TIMEOUTS = {
  connectTimeoutMs: 5_000,
  requestTimeoutMs: 60_000,
  longRequestTimeoutMs: 15 * 60_000,
  maxAttempts: 4,
} as const;

/** Quay presigns blob downloads for 600 s (storage/distributedstorage.py, get_direct_download_url). */
export const REDIRECT_EXPIRY_SECONDS = 600;
