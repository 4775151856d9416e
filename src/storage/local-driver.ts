import { z } from 'zod';
import type { StorageDriver } from './driver.js';
import { LocalBlobStore } from './local.js';

/** LocalStorage's parameters, Quay's one key: the directory that holds blobs and uploads. */
export interface LocalStorageParams {
  storage_path: string;
}

const localStorageParams = z.strictObject({
  storage_path: z.string().trim().min(1),
});

/** Quay's LocalStorage: blobs on the local filesystem (or a mount). */
export const localStorageDriver: StorageDriver<LocalStorageParams> = {
  name: 'LocalStorage',
  params: localStorageParams,
  create: (params, context) => new LocalBlobStore(params.storage_path, { now: context.now }),
};
