import { FAULT_REPORT_INTERVAL_MS, StorageFaultError, type StorageFaultKind } from '../faults.js';

/**
 * Turns the SDK's errors into the storage contract's: StorageFaultError for a backend at fault (unreachable,
 * timing out, 5xx after the SDK's retries, refusing our credentials), a typed not-found for missing keys, and
 * everything else (a caller's AbortError, a bug) as it is.
 */

interface SdkError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The HTTP status of an S3 error response, when there was one. */
export function httpStatusOf(error: unknown): number | undefined {
  return (error as SdkError | undefined)?.$metadata?.httpStatusCode;
}

const NOT_FOUND_NAMES = new Set(['NoSuchKey', 'NotFound', 'NoSuchUpload']);

/** A missing key or multipart upload (HEAD answers a bare 404, GET a NoSuchKey, ListParts a NoSuchUpload). */
export function isNotFound(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (NOT_FOUND_NAMES.has(error.name)) return true;
  return httpStatusOf(error) === 404 && error.name !== 'NoSuchBucket';
}

/** Our credentials may not do this (another bucket's policy refuses them): 403 or an AccessDenied. */
export function isAccessDenied(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AccessDenied' || httpStatusOf(error) === 403);
}

/** A bad Range: the blob is shorter than the start. */
export function isInvalidRange(error: unknown): boolean {
  return error instanceof Error && (error.name === 'InvalidRange' || httpStatusOf(error) === 416);
}

/** Errors of the connection itself: nothing answered, or not in time, or not over trustworthy TLS. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH',
  'ENETUNREACH', 'EHOSTDOWN', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'UND_ERR_SOCKET',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const DENIED_NAMES = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AllAccessDisabled', 'InvalidToken', 'ExpiredToken']);

/** The fault kind and backend code of an SDK error, or undefined when the backend is not at fault. */
export function faultOf(error: unknown): { kind: StorageFaultKind; code: string } | undefined {
  if (!(error instanceof Error) || error.name === 'AbortError') return undefined;
  const { name } = error;
  const code = (error as SdkError).code;
  const status = httpStatusOf(error);
  if (status === 403 || DENIED_NAMES.has(name)) return { kind: 'permission-denied', code: status === undefined ? name : `${name} (HTTP ${status})` };
  if (status === 507) return { kind: 'no-space', code: `${name} (HTTP 507)` };
  if (name === 'NoSuchBucket') return { kind: 'unavailable', code: 'NoSuchBucket' };
  if (status !== undefined && status >= 500) return { kind: 'unavailable', code: `${name} (HTTP ${status})` };
  if (TIMEOUT_NAMES.has(name)) return { kind: 'unavailable', code: code ?? name };
  if (code !== undefined && NETWORK_CODES.has(code)) return { kind: 'unavailable', code };
  return undefined;
}

/**
 * Classifies one store's errors, marking the first fault of each backend code (then one per
 * FAULT_REPORT_INTERVAL_MS) for the operator's log, as the local driver's StorageFaults does.
 */
export class S3Faults {
  private readonly lastReported = new Map<string, number>();

  constructor(
    private readonly store: string,
    private readonly now: () => number,
  ) {}

  classify(error: unknown): unknown {
    if (error instanceof StorageFaultError) return error;
    const fault = faultOf(error);
    if (fault === undefined) return error;
    const now = this.now();
    const last = this.lastReported.get(fault.code);
    const report = last === undefined || now - last >= FAULT_REPORT_INTERVAL_MS;
    if (report) this.lastReported.set(fault.code, now);
    return new StorageFaultError(fault.kind, fault.code, this.store, report, { cause: error });
  }

  async run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw this.classify(error);
    }
  }
}
