import type { Metadata } from '../db/metadata.js';
import type { BlobStore } from '../storage/blob-store.js';

/** One named dependency probe; it resolves when the service works and rejects otherwise. */
export type HealthCheck = () => Promise<void>;

export interface HealthReport {
  /** Service name -> healthy, as Quay reports it. */
  services: Record<string, boolean>;
  /** Why each failing service failed (for logs, never for the response). */
  failures: Record<string, string>;
  healthy: boolean;
}

/** A check that has not answered within this time counts as failed. */
export const DEFAULT_CHECK_TIMEOUT_MS = 3000;

/**
 * The probes of a registry instance: the metadata database (a round trip) and the blob store of the preferred
 * location (its ping: Quay's `_verify` marker written and read back; /health/endtoend only, see routes.ts), and
 * Redis when one is configured (endtoend only too: an instance serves without it).
 */
export function registryChecks(deps: { metadata: Metadata; blobs: BlobStore; redis?: { ping(): Promise<void> } }): Record<string, HealthCheck> {
  const checks: Record<string, HealthCheck> = {
    database: () => deps.metadata.ping(),
    storage: () => deps.blobs.ping(),
  };
  // Only when Redis is configured (as Quay): /health/endtoend then says redis: false while it is down.
  const redis = deps.redis;
  if (redis !== undefined) checks.redis = () => redis.ping();
  return checks;
}

function withTimeout(check: HealthCheck, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  // A check that throws synchronously is as failed as one that rejects.
  const run = Promise.resolve().then(check);
  return Promise.race([run, timeout]).finally(() => clearTimeout(timer));
}

/** Runs every check concurrently, each bounded by `timeoutMs`. Never rejects. */
export async function runHealthChecks(
  checks: Record<string, HealthCheck>,
  timeoutMs: number = DEFAULT_CHECK_TIMEOUT_MS,
): Promise<HealthReport> {
  const names = Object.keys(checks);
  const outcomes = await Promise.allSettled(names.map((name) => withTimeout(checks[name] as HealthCheck, timeoutMs)));
  const services: Record<string, boolean> = {};
  const failures: Record<string, string> = {};
  outcomes.forEach((outcome, index) => {
    const name = names[index] as string;
    services[name] = outcome.status === 'fulfilled';
    if (outcome.status === 'rejected') {
      failures[name] = outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason);
    }
  });
  return { services, failures, healthy: Object.values(services).every(Boolean) };
}
