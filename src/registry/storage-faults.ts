import type { FastifyBaseLogger } from 'fastify';
import { FAULT_REPORT_INTERVAL_MS, STORAGE_RETRY_AFTER_S, StorageFaultError } from '../storage/faults.js';
import { RegistryError } from './errors.js';

/**
 * How /v2 answers a storage fault: 503 UNAVAILABLE (unreachable, read-only, permission denied) or 507 (full),
 * with a message saying the storage is at fault and nothing about where it lives or what the backend said. An
 * outage ('unavailable') is transient, so it also says when to try again (Retry-After).
 */
export function storageFaultAsRegistryError(error: unknown): RegistryError | undefined {
  if (!(error instanceof StorageFaultError)) return undefined;
  const headers = error.kind === 'unavailable' ? { 'Retry-After': String(STORAGE_RETRY_AFTER_S) } : undefined;
  return new RegistryError(error.kind === 'no-space' ? 'INSUFFICIENT_STORAGE' : 'UNAVAILABLE', error.publicMessage, {
    fault: error.kind,
  }, headers);
}

/** Logs the occurrence of a storage fault that its store marked for reporting (the first, then one per interval). */
export function logStorageFault(log: FastifyBaseLogger, error: unknown): void {
  if (!(error instanceof StorageFaultError) || !error.report) return;
  log.error(
    { err: error.cause, fault: error.kind, code: error.backendCode, store: error.store },
    `storage fault: ${error.message}; requests that need storage fail until it is fixed (logged again in ${FAULT_REPORT_INTERVAL_MS / 60_000} minutes if it lasts)`,
  );
}
