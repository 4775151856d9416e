import type { z } from 'zod';
import type { StorageLocationConfig } from '../config/schema.js';
import { describeIssue } from '../config/issues.js';
import { closestKey } from '../config/suggest.js';
import type { BlobStore } from './blob-store.js';
import type { StorageDriver, StorageDriverContext } from './driver.js';
import { STORAGE_DRIVERS } from './drivers.js';

/**
 * DISTRIBUTED_STORAGE_CONFIG entries -> blob stores. Each entry names a driver (drivers.ts) whose strict zod
 * schema parses its parameters; whatever is wrong (an unknown driver, a missing, mistyped or unknown
 * parameter) is ONE line naming the location, the driver, the key and the problem, the same line whether
 * `serve` or `config validate` finds it. Parsing and building do no I/O; `ping()` is the first call that
 * reaches the backend.
 */

/** A storage location that cannot be built: the message is one line meant for the operator. */
export class StorageConfigError extends Error {
  constructor(
    /** The location's name in DISTRIBUTED_STORAGE_CONFIG. */
    readonly location: string,
    message: string,
  ) {
    super(`DISTRIBUTED_STORAGE_CONFIG.${location}: ${message}`);
    this.name = 'StorageConfigError';
  }
}

/** Quay's driver names (storage/__init__.py), so that a Quay config naming one is told it is not in this build. */
const QUAY_DRIVER_NAMES = new Set([
  'LocalStorage',
  'S3Storage',
  'STSS3Storage',
  'GoogleCloudStorage',
  'RadosGWStorage',
  'RHOCSStorage',
  'SwiftStorage',
  'CloudFrontedS3Storage',
  'CloudFlareStorage',
  'MultiCDNStorage',
  'AzureStorage',
  'IBMCloudStorage',
  'AkamaiS3Storage',
]);

/** A location whose parameters its driver accepted; build it with buildStorageLocation. */
export interface ParsedStorageLocation {
  /** The location's name in DISTRIBUTED_STORAGE_CONFIG. */
  readonly name: string;
  readonly driver: StorageDriver;
  /** The parameters as the driver's schema returned them (defaults filled in, values normalized). */
  readonly params: unknown;
}

function available(drivers: readonly StorageDriver[]): string {
  return drivers.map((driver) => driver.name).join(', ');
}

/** One parameter problem: `key: problem`, the key path dotted. */
function describeParameterIssue(issue: z.core.$ZodIssue, known: string[]): string {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((key) => {
        const near = closestKey(key, known);
        return `${key}: unknown parameter${near === undefined ? '' : ` (did you mean ${near}?)`}`;
      })
      .join('; ');
  }
  const key = issue.path.map(String).join('.');
  const problem = describeIssue(issue).replace(/^is required/, 'required');
  return key === '' ? problem : `${key}: ${problem}`;
}

/** The keys a driver's schema knows, for "did you mean" (strict objects expose their shape). */
function knownKeys(schema: z.ZodType): string[] {
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
  return shape === undefined ? [] : Object.keys(shape);
}

/** Parses one DISTRIBUTED_STORAGE_CONFIG entry with its driver's schema; StorageConfigError when it cannot. No I/O. */
export function parseStorageLocation(
  name: string,
  [driverName, params]: StorageLocationConfig,
  drivers: readonly StorageDriver[] = STORAGE_DRIVERS,
): ParsedStorageLocation {
  const driver = drivers.find((candidate) => candidate.name === driverName);
  if (driver === undefined) {
    if (QUAY_DRIVER_NAMES.has(driverName)) {
      throw new StorageConfigError(name, `storage driver ${driverName} is not available in this version of Quayside (available: ${available(drivers)})`);
    }
    throw new StorageConfigError(name, `unknown storage driver ${JSON.stringify(driverName)} (available: ${available(drivers)})`);
  }
  const result = driver.params.safeParse(params, { reportInput: true });
  if (!result.success) {
    const known = knownKeys(driver.params);
    const problems = result.error.issues.map((issue) => describeParameterIssue(issue, known));
    throw new StorageConfigError(name, `${driver.name}: ${problems.join('; ')}`);
  }
  return { name, driver, params: result.data };
}

/** Builds the store of a parsed location (no I/O). */
export function buildStorageLocation(location: ParsedStorageLocation, context: Omit<StorageDriverContext, 'location'>): BlobStore {
  return location.driver.create(location.params, { ...context, location: location.name });
}

/** Parses and builds one location with no extra CAs and the real clock; StorageConfigError when it cannot. */
export function createBlobStore(name: string, config: StorageLocationConfig, context: Partial<Omit<StorageDriverContext, 'location'>> = {}): BlobStore {
  return buildStorageLocation(parseStorageLocation(name, config), { extraCa: context.extraCa ?? [], now: context.now ?? Date.now });
}

const ERRNO_REASONS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOTDIR: 'not a directory',
  EEXIST: 'not a directory',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
};

function errnoCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code in ERRNO_REASONS) return code;
  }
  return undefined;
}

/**
 * Why a location failed its check (ping: the `_verify` marker written and read back), in one line:
 * `LocalStorage directory /x is not writable: permission denied`, or the driver's first line otherwise.
 */
export function describeStorageFailure(location: ParsedStorageLocation, error: unknown): string {
  const code = errnoCode(error);
  const params = location.params as { storage_path?: unknown };
  if (location.driver.name === 'LocalStorage' && typeof params.storage_path === 'string') {
    const reason = code !== undefined ? ERRNO_REASONS[code] : firstLineOf(error);
    return `LocalStorage directory ${params.storage_path} is not writable: ${reason}`;
  }
  return `${location.driver.name}: ${firstLineOf(error)}`;
}

function firstLineOf(error: unknown): string {
  const message = error instanceof Error ? error.message || error.name : String(error);
  return message.split('\n')[0] ?? message;
}
