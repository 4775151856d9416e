import { availableParallelism } from 'node:os';

/** A worker count that is neither a number in range nor "auto"; its message is the one line to show. */
export class WorkerCountError extends Error {}

/** Most worker processes one `serve` runs: far beyond any machine's cores, a typo rather than a plan. */
export const MAX_WORKERS = 256;

/**
 * How many worker processes `serve` runs: `--workers N|auto`, else QUAYSIDE_WORKERS, else the config's
 * WORKER_COUNT_REGISTRY (Quay's key), else auto: one per CPU the process may use.
 */
export function resolveWorkerCount(flag: string | undefined, env: string | undefined, configured: number | undefined): number {
  const [source, value] = flag !== undefined ? ['--workers', flag] : env !== undefined && env !== '' ? ['QUAYSIDE_WORKERS', env] : [undefined, undefined];
  if (source === undefined || value === undefined) return configured ?? availableParallelism();
  if (value === 'auto') return availableParallelism();
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_WORKERS) {
    throw new WorkerCountError(`${source}: expected a number of worker processes from 1 to ${MAX_WORKERS} or "auto", got ${JSON.stringify(value)}`);
  }
  return Number(value);
}
