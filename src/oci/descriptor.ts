import { computeDigest, parseDigest } from './digest.js';
import { looksLikeMediaType } from './media-types.js';

/** An OCI content descriptor, as validated from a manifest. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: unknown;
  urls?: string[];
}

/** What a manifest was rejected for: MANIFEST_INVALID (bad content) or UNSUPPORTED (schema 1). */
export class ManifestError extends Error {
  readonly code: 'MANIFEST_INVALID' | 'UNSUPPORTED';

  constructor(code: 'MANIFEST_INVALID' | 'UNSUPPORTED', message: string) {
    super(message);
    this.name = 'ManifestError';
    this.code = code;
  }
}

/** Throw MANIFEST_INVALID with a message naming the offending field. */
export function invalid(message: string): never {
  throw new ManifestError('MANIFEST_INVALID', message);
}

/** A plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A human description of a JSON value's type for error messages. */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** Validate an optional annotations map (string -> string); returns it, or undefined when absent. */
export function validateAnnotations(value: unknown, path: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isJsonObject(value)) invalid(`${path} must be an object of strings, not ${jsonType(value)}`);
  // Copy into a prototype-less object so a key like "__proto__" stays an ordinary key.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') invalid(`${path}[${JSON.stringify(key)}] must be a string, not ${jsonType(entry)}`);
    out[key] = entry;
  }
  return out;
}

/** Validate an optional artifactType: a bare media type. */
export function validateArtifactType(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') invalid(`${path} must be a string, not ${jsonType(value)}`);
  if (!looksLikeMediaType(value)) invalid(`${path} ${JSON.stringify(value)} is not a media type (type/subtype)`);
  return value;
}

function validatePlatform(value: unknown, path: string): unknown {
  if (!isJsonObject(value)) invalid(`${path} must be an object, not ${jsonType(value)}`);
  for (const field of ['architecture', 'os'] as const) {
    if (typeof value[field] !== 'string') invalid(`${path}.${field} is required and must be a string`);
  }
  for (const field of ['os.version', 'variant'] as const) {
    if (value[field] !== undefined && typeof value[field] !== 'string') invalid(`${path}.${field} must be a string`);
  }
  for (const field of ['os.features', 'features'] as const) {
    const list = value[field];
    if (list !== undefined && !(Array.isArray(list) && list.every((item) => typeof item === 'string'))) {
      invalid(`${path}.${field} must be an array of strings`);
    }
  }
  return value;
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Embedded `data` must be the very bytes the descriptor names, or it would smuggle unverified content. */
function validateData(value: unknown, digest: string, size: number, path: string): void {
  if (typeof value !== 'string') invalid(`${path}.data must be a base64 string, not ${jsonType(value)}`);
  if (!BASE64_RE.test(value)) invalid(`${path}.data is not valid base64`);
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length !== size) invalid(`${path}.data is ${bytes.length} bytes but size says ${size}`);
  const algorithm = parseDigest(digest)?.algorithm ?? 'sha256';
  if (computeDigest(algorithm, bytes) !== digest) invalid(`${path}.data does not match ${path}.digest`);
}

/**
 * Validate one descriptor at `path` (e.g. "layers[3]"). Returns a clean copy holding only the
 * known fields; unknown fields are allowed by the spec and dropped here, never from stored bytes.
 */
export function validateDescriptor(value: unknown, path: string, options: { platform?: boolean } = {}): Descriptor {
  if (!isJsonObject(value)) invalid(`${path} must be a descriptor object, not ${jsonType(value)}`);
  const { mediaType, digest, size } = value;
  if (mediaType === undefined) invalid(`${path}.mediaType is required`);
  if (typeof mediaType !== 'string') invalid(`${path}.mediaType must be a string, not ${jsonType(mediaType)}`);
  if (!looksLikeMediaType(mediaType)) invalid(`${path}.mediaType ${JSON.stringify(mediaType)} is not a media type`);
  if (digest === undefined) invalid(`${path}.digest is required`);
  if (typeof digest !== 'string') invalid(`${path}.digest must be a string, not ${jsonType(digest)}`);
  if (parseDigest(digest) === undefined) {
    invalid(`${path}.digest ${JSON.stringify(digest.slice(0, 200))} is not a valid digest (sha256:<64 lowercase hex> or sha512:<128 lowercase hex>)`);
  }
  if (size === undefined) invalid(`${path}.size is required`);
  if (typeof size !== 'number') invalid(`${path}.size must be a number, not ${jsonType(size)}`);
  if (!Number.isSafeInteger(size) || size < 0) invalid(`${path}.size must be a non-negative integer, not ${size}`);

  const descriptor: Descriptor = { mediaType, digest, size };
  const artifactType = validateArtifactType(value.artifactType, `${path}.artifactType`);
  if (artifactType !== undefined) descriptor.artifactType = artifactType;
  const annotations = validateAnnotations(value.annotations, `${path}.annotations`);
  if (annotations !== undefined) descriptor.annotations = annotations;
  if (value.urls !== undefined) {
    const urls = value.urls;
    if (!Array.isArray(urls)) invalid(`${path}.urls must be an array of strings, not ${jsonType(urls)}`);
    for (const [i, url] of urls.entries()) {
      if (typeof url !== 'string' || url.length === 0) invalid(`${path}.urls[${i}] must be a non-empty string`);
    }
    descriptor.urls = [...(urls as string[])];
  }
  if (value.data !== undefined) validateData(value.data, digest, size, path);
  if (value.platform !== undefined) {
    // Platform only means something on an index entry; elsewhere it is an unknown field to ignore.
    descriptor.platform = options.platform === true ? validatePlatform(value.platform, `${path}.platform`) : value.platform;
  }
  return descriptor;
}
