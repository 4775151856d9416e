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

/** Builds the driver for one DISTRIBUTED_STORAGE_CONFIG entry; StorageConfigError when it cannot. */
export function createBlobStore(location: StorageLocationConfig): BlobStore {
  const [driver, params] = location;
  switch (driver) {
    case 'LocalStorage': {
      const storagePath = params.storage_path;
      if (typeof storagePath !== 'string' || storagePath.trim() === '') {
        throw new StorageConfigError('LocalStorage needs storage_path, a non-empty directory path');
      }
      return new LocalBlobStore(storagePath);
    }
    default:
      if (QUAY_DRIVERS_NOT_YET_AVAILABLE.has(driver)) {
        throw new StorageConfigError(
          `storage driver ${driver} is not available in this version of Quayside (available: ${AVAILABLE.join(', ')})`,
        );
      }
      throw new StorageConfigError(`unknown storage driver ${JSON.stringify(driver)} (available: ${AVAILABLE.join(', ')})`);
  }
}
