import { z } from 'zod';
import { DEFAULT_TIMEOUTS, REDIRECT_EXPIRY_SECONDS, type S3StoreOptions } from './options.js';
import { GiB, MAX_PART_BYTES, MiB, MIN_PART_BYTES } from './parts.js';

/**
 * The parameters of Quay's S3-family drivers, with Quay's own key names (storage/cloud.py), and their
 * translation into S3StoreOptions. Pure: no I/O, no SDK.
 */

/** Default part size: big enough for few requests per blob, small enough that two parts in memory stay small. */
export const DEFAULT_PART_MB = 8;

/** The message of a key's type error: missing keys say so instead of "expected string, received undefined". */
function typeError(expected: string): (issue: { input: unknown }) => string {
  return (issue) => (issue.input === undefined ? 'is required' : `must be ${expected}`);
}

const text = z.string({ error: typeError('a string') }).trim().min(1, 'must be a non-empty string');
/** Quay's optional keys are often written as `null` or '' in config.yaml; both mean "not set". */
const optionalText = z
  .union([z.string(), z.null()])
  .optional()
  .transform((value) => (value === null || value === undefined || value.trim() === '' ? undefined : value.trim()));
const storagePath = z.string({ error: typeError('a string (a key prefix, "" or "/" for the bucket root)') });
const PORT_MESSAGE = 'must be a port number (1-65535)';
const portNumber = z.number({ error: PORT_MESSAGE }).int(PORT_MESSAGE).min(1, PORT_MESSAGE).max(65_535, PORT_MESSAGE);
const port = z.union([portNumber, z.string().regex(/^\d{1,5}$/).transform(Number).pipe(portNumber)], { error: PORT_MESSAGE });
const chunkMb = z
  .number({ error: typeError('a number of MiB') })
  .min(MIN_PART_BYTES / MiB, 'must be at least 5 (S3 refuses smaller parts)')
  .max(MAX_PART_BYTES / MiB, 'must be at most 5120 (S3 refuses bigger parts)');
/** SigV2 cannot be had from the AWS SDK v3; the v4 spellings are accepted. */
const signatureVersion = z
  .union([z.enum(['s3v4', 'v4']), z.null()], {
    error: 'must be s3v4 (signature version 2 is not supported; every S3-compatible service speaks v4)',
  })
  .optional();
const endpointUrl = z
  .string()
  .trim()
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL');

/** A strict object whose unknown keys are named in one line, with the keys the driver does know. */
function strictParams<Shape extends z.core.$ZodLooseShape>(driver: string, shape: Shape) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown ${driver} parameter${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} (known: ${known})`
        : undefined,
  });
}

/** S3Storage: AWS S3 or any S3-compatible service. */
export const s3StorageParams = strictParams('S3Storage', {
  s3_bucket: text,
  storage_path: storagePath,
  s3_access_key: optionalText,
  s3_secret_key: optionalText,
  aws_session_token: optionalText,
  s3_region: optionalText,
  host: optionalText,
  port: port.optional(),
  endpoint_url: endpointUrl.optional(),
  minimum_chunk_size_mb: chunkMb.optional(),
  maximum_chunk_size_gb: z
    .number({ error: 'must be a number of GiB' })
    .positive('must be positive')
    .max(5, 'must be at most 5 (S3 refuses bigger parts)')
    .optional(),
  signature_version: signatureVersion,
}).superRefine((params, ctx) => {
  if ((params.s3_access_key === undefined) !== (params.s3_secret_key === undefined)) {
    const missing = params.s3_access_key === undefined ? 's3_access_key' : 's3_secret_key';
    ctx.addIssue({ code: 'custom', path: [missing], message: 'must be set with the other key (or neither, for the AWS credential chain)' });
  }
  if (params.port !== undefined && params.host === undefined) {
    ctx.addIssue({ code: 'custom', path: ['port'], message: 'needs host' });
  }
});
export type S3StorageParams = z.output<typeof s3StorageParams>;

/** GoogleCloudStorage: GCS's S3-compatible XML API with HMAC keys. */
export const googleCloudStorageParams = strictParams('GoogleCloudStorage', {
  access_key: text,
  secret_key: text,
  bucket_name: text,
  storage_path: storagePath,
  minimum_chunk_size_mb: chunkMb.optional(),
  signature_version: signatureVersion,
  boto_timeout: z.number({ error: 'must be a number of seconds' }).positive('must be positive').optional(),
});
export type GoogleCloudStorageParams = z.output<typeof googleCloudStorageParams>;

/** RadosGWStorage: Ceph's S3 gateway. */
export const radosGwStorageParams = strictParams('RadosGWStorage', {
  hostname: text,
  port: port.optional(),
  is_secure: z.boolean({ error: typeError('true or false') }),
  access_key: text,
  secret_key: text,
  bucket_name: text,
  storage_path: storagePath,
  region_name: optionalText,
  signature_version: signatureVersion,
  minimum_chunk_size_mb: chunkMb.optional(),
  maximum_chunk_size_mb: chunkMb.optional(),
  server_side_assembly: z.boolean({ error: typeError('true or false') }).optional(),
});
export type RadosGwStorageParams = z.output<typeof radosGwStorageParams>;

/** GCS's XML API endpoint (Quay's GoogleCloudStorage.ENDPOINT_URL). */
export const GCS_ENDPOINT = 'https://storage.googleapis.com';
/** AWS's default region, and the one most S3-compatible servers sign with. */
const DEFAULT_REGION = 'us-east-1';

/**
 * Quay's `_build_endpoint_url`: a host without a scheme gets https:// (http:// when not secure), and the
 * port is appended unless the host already ends with one.
 */
export function buildEndpointUrl(hostname: string, port: number | undefined, isSecure: boolean): string {
  let url = /^https?:\/\//.test(hostname) ? hostname : `${isSecure ? 'https' : 'http'}://${hostname}`;
  const last = url.split(':').at(-1)?.replace(/[ /]+$/, '') ?? '';
  if (port !== undefined && !/^\d+$/.test(last)) url = `${url.replace(/\/+$/, '')}:${port}`;
  return url;
}

function withDefaults(options: Omit<S3StoreOptions, keyof typeof DEFAULT_TIMEOUTS | 'redirectExpirySeconds'> & Partial<S3StoreOptions>): S3StoreOptions {
  return { ...DEFAULT_TIMEOUTS, redirectExpirySeconds: REDIRECT_EXPIRY_SECONDS, ...options };
}

/**
 * S3Storage's options. Quay sends every request to AWS when s3_region is set even if host or endpoint_url
 * is given; here an explicit endpoint wins and s3_region is its signing region, the only reading under
 * which both keys mean something.
 */
export function s3StorageOptions(params: S3StorageParams): S3StoreOptions {
  const endpoint = params.endpoint_url ?? (params.host === undefined ? undefined : buildEndpointUrl(params.host, params.port, true));
  const maxCopyGb = params.maximum_chunk_size_gb ?? 5;
  return withDefaults({
    kind: 's3',
    bucket: params.s3_bucket,
    storagePath: params.storage_path,
    endpoint,
    region: params.s3_region ?? process.env.AWS_REGION ?? DEFAULT_REGION,
    forcePathStyle: endpoint !== undefined,
    followRegionRedirects: endpoint === undefined && params.s3_region === undefined,
    credentials:
      params.s3_access_key !== undefined && params.s3_secret_key !== undefined
        ? {
            accessKeyId: params.s3_access_key,
            secretAccessKey: params.s3_secret_key,
            ...(params.aws_session_token === undefined ? {} : { sessionToken: params.aws_session_token }),
          }
        : undefined,
    partBytes: (params.minimum_chunk_size_mb ?? DEFAULT_PART_MB) * MiB,
    maxCopyPartBytes: Math.floor(maxCopyGb * GiB),
    multipartCopy: true,
  });
}

/**
 * GoogleCloudStorage's options: the S3 store on GCS's endpoint. GCS copies objects of any size with one
 * CopyObject and has no UploadPartCopy, so commits never use a multipart copy.
 */
export function googleCloudStorageOptions(params: GoogleCloudStorageParams): S3StoreOptions {
  return withDefaults({
    kind: 'gcs',
    bucket: params.bucket_name,
    storagePath: params.storage_path,
    endpoint: GCS_ENDPOINT,
    // GCS accepts any region in a SigV4 scope; 'auto' is what its documentation uses.
    region: 'auto',
    forcePathStyle: true,
    followRegionRedirects: false,
    credentials: { accessKeyId: params.access_key, secretAccessKey: params.secret_key },
    partBytes: (params.minimum_chunk_size_mb ?? DEFAULT_PART_MB) * MiB,
    maxCopyPartBytes: MAX_PART_BYTES,
    multipartCopy: false,
    ...(params.boto_timeout === undefined ? {} : { requestTimeoutMs: params.boto_timeout * 1000 }),
  });
}

/**
 * RadosGWStorage's options. In Quay, server_side_assembly: false joins chunks by downloading and
 * re-uploading them, for gateways without multipart copy; Quayside never moves blob bytes through itself,
 * so false means: commit with one CopyObject whatever the size (RadosGW copies big objects itself).
 */
export function radosGwStorageOptions(params: RadosGwStorageParams): S3StoreOptions {
  return withDefaults({
    kind: 'radosgw',
    bucket: params.bucket_name,
    storagePath: params.storage_path,
    endpoint: buildEndpointUrl(params.hostname, params.port, params.is_secure),
    region: params.region_name ?? DEFAULT_REGION,
    forcePathStyle: true,
    followRegionRedirects: false,
    credentials: { accessKeyId: params.access_key, secretAccessKey: params.secret_key },
    partBytes: (params.minimum_chunk_size_mb ?? DEFAULT_PART_MB) * MiB,
    // Quay's RadosGW default for server-side assembly parts: 100 MiB.
    maxCopyPartBytes: (params.maximum_chunk_size_mb ?? 100) * MiB,
    multipartCopy: params.server_side_assembly ?? true,
  });
}
