import type { StorageDriver } from './driver.js';
import { localStorageDriver } from './local-driver.js';
import { s3FamilyDrivers } from './s3/drivers.js';
import { swiftStorageDriver } from './swift/driver.js';

/**
 * Every storage driver this build has, by Quay's driver name. Adding a driver is one line here: factory.ts
 * parses each DISTRIBUTED_STORAGE_CONFIG entry with the schema of the driver named in it and builds it.
 */
export const STORAGE_DRIVERS: readonly StorageDriver[] = [
  localStorageDriver,
  ...s3FamilyDrivers,
  swiftStorageDriver,
];
