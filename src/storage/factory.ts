import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { StorageLocationConfig } from '../config/schema.js';
import type { BlobStore } from './blob-store.js';
import { LocalBlobStore } from './local.js';

/** A storage location that cannot be built: the message is one line meant for the operator. */
export class StorageConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageConfigError';
  }
}

/** Quay's driver names (storage/__init__.py) that this version knows but does not implement yet. */
const QUAY_DRIVERS_NOT_YET_AVAILABLE = new Set([
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

const AVAILABLE = ['LocalStorage'];

/** The driver name and parameters of a location that can be built; StorageConfigError when it cannot. No I/O. */
export function checkStorageLocation(location: StorageLocationConfig): { driver: 'LocalStorage'; storagePath: string } {
  const [driver, params] = location;
  if (driver === 'LocalStorage') {
    const storagePath = params.storage_path;
    if (typeof storagePath !== 'string' || storagePath.trim() === '') {
      throw new StorageConfigError('LocalStorage needs storage_path, a non-empty directory path');
    }
    return { driver, storagePath };
  }
  if (QUAY_DRIVERS_NOT_YET_AVAILABLE.has(driver)) {
    throw new StorageConfigError(
      `storage driver ${driver} is not available in this version of Quayside (available: ${AVAILABLE.join(', ')})`,
    );
  }
  throw new StorageConfigError(`unknown storage driver ${JSON.stringify(driver)} (available: ${AVAILABLE.join(', ')})`);
}

/** Builds the driver for one DISTRIBUTED_STORAGE_CONFIG entry; StorageConfigError when it cannot. */
export function createBlobStore(location: StorageLocationConfig): BlobStore {
  return new LocalBlobStore(checkStorageLocation(location).storagePath);
}

/**
 * Makes sure the location can take blobs before the server says it is up: a LocalStorage directory is
 * created when missing and must be writable (a probe file is written and removed).
 */
export async function checkStorageWritable(location: StorageLocationConfig): Promise<void> {
  const { storagePath } = checkStorageLocation(location);
  const probe = path.join(storagePath, `.quayside-write-check-${process.pid}-${randomUUID()}`);
  try {
    await mkdir(storagePath, { recursive: true });
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const reason = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system'
      : code === 'ENOTDIR' || code === 'EEXIST' ? 'not a directory' : code === 'ENOSPC' ? 'no space left on device'
        : error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new StorageConfigError(`LocalStorage directory ${storagePath} is not writable: ${reason}`);
  }
}
