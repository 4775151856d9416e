import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Metadata } from '../db/metadata.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { GcMetrics } from '../gc/metrics.js';
import { runGcPass, type GcLog } from '../gc/pass.js';
import { startPeriodic } from './periodic.js';

export interface GcWorkerOptions {
  intervalMs: number;
  timeMachineMs: number;
  graceMs: number;
  metrics?: GcMetrics;
}

/** A lease outlives a pass over one repository by far; a crashed holder's repository waits this long at most. */
const LEASE_MS = 5 * 60 * 1000;

/**
 * Runs a garbage collection pass now and then every intervalMs in this instance. Instances share the work
 * through leases in the database: each repository is collected by one of them at a time.
 */
export function startGarbageCollection(metadata: Metadata, storage: BlobStore, log: GcLog & { error(object: object, message: string): void }, options: GcWorkerOptions): { stop(): Promise<void> } {
  const holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  return startPeriodic(
    async () => {
      const summary = await runGcPass(metadata, storage, log, { ...options, holder, leaseMs: LEASE_MS });
      if (summary.manifests + summary.blobs > 0) log.info({ ...summary }, 'gc: pass finished');
    },
    options.intervalMs,
    (error) => log.error({ err: error }, 'gc: pass failed'),
  );
}
