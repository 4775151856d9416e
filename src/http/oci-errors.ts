/**
 * The one table of OCI distribution error codes: code, HTTP status and default message together.
 * Handlers throw RegistryError; the HTTP layer turns it into an OCI error body in one place.
 */
export const ERROR_CODES = {
  // Entries whose wire code differs from their name carry `wire`: the spec has one code for two statuses.
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 415, message: 'the operation is unsupported' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed', wire: 'UNSUPPORTED' },
  NOT_FOUND: { status: 404, message: 'no such endpoint' },
  REQUEST_INVALID: { status: 400, message: 'invalid request', wire: 'UNSUPPORTED' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  // Not in the spec's table but used by distribution and Quay with these statuses.
  RANGE_INVALID: { status: 416, message: 'invalid content range' },
  MANIFEST_TOO_LARGE: { status: 413, message: 'manifest too large' },
  BLOB_TOO_LARGE: { status: 413, message: 'blob exceeds the maximum layer size' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  INSUFFICIENT_STORAGE: { status: 507, message: 'insufficient storage', wire: 'UNAVAILABLE' },
  INTERNAL: { status: 500, message: 'internal server error' },
} as const satisfies Record<string, { status: number; message: string; wire?: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error a client caused or must be told about, rendered as OCI error JSON. */
export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  /** Extra response headers (e.g. Range on a 416 for an upload). */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, detail?: unknown, headers: Record<string, string> = {}) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'RegistryError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.detail = detail;
    this.headers = headers;
  }

  /** The OCI error body: {"errors":[{"code","message","detail"}]}. */
  toBody(): { errors: Array<{ code: string; message: string; detail?: unknown }> } {
    const spec = ERROR_CODES[this.code];
    const wire = 'wire' in spec ? spec.wire : this.code;
    const entry: { code: string; message: string; detail?: unknown } = { code: wire, message: this.message };
    if (this.detail !== undefined) entry.detail = this.detail;
    return { errors: [entry] };
  }
}
