import type { StorageDriver } from '../driver.js';
import {
  googleCloudStorageOptions,
  googleCloudStorageParams,
  radosGwStorageOptions,
  radosGwStorageParams,
  s3StorageOptions,
  s3StorageParams,
  type GoogleCloudStorageParams,
  type RadosGwStorageParams,
  type S3StorageParams,
} from './params.js';
import { S3BlobStore } from './store.js';

/** Quay's S3Storage: AWS S3 or any S3-compatible endpoint. */
export const s3StorageDriver: StorageDriver<S3StorageParams> = {
  name: 'S3Storage',
  params: s3StorageParams,
  create: (params, context) => new S3BlobStore(s3StorageOptions(params), context),
};

/** Quay's GoogleCloudStorage: GCS's S3-compatible XML API with HMAC keys. */
export const googleCloudStorageDriver: StorageDriver<GoogleCloudStorageParams> = {
  name: 'GoogleCloudStorage',
  params: googleCloudStorageParams,
  create: (params, context) => new S3BlobStore(googleCloudStorageOptions(params), context),
};

/** Quay's RadosGWStorage: Ceph's S3 gateway. */
export const radosGwStorageDriver: StorageDriver<RadosGwStorageParams> = {
  name: 'RadosGWStorage',
  params: radosGwStorageParams,
  create: (params, context) => new S3BlobStore(radosGwStorageOptions(params), context),
};

/** The S3 family, for src/storage/drivers.ts. */
export const s3FamilyDrivers = [s3StorageDriver, googleCloudStorageDriver, radosGwStorageDriver] as const;
