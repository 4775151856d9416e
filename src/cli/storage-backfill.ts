import type { Database } from '../db/database.js';
import { PlacementAudit } from '../db/placement-audit.js';
import { KyselyPlacementIndex } from '../db/placements.js';
import { KyselyReplicationQueue } from '../db/replication-jobs.js';
import type { CheckedConfig } from './runtime.js';
import { CliError } from './cli-error.js';
import { progressWriter } from './gc.js';

/** Blobs read and queued per round trip. */
const PAGE = 500;

export interface BackfillSummary {
  location: string;
  queued: number;
  alreadyThere: number;
}

/**
 * The locations a backfill fills: the --location flags, else DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS; each must
 * be configured. One CliError line otherwise.
 */
export function backfillTargets(checked: Pick<CheckedConfig, 'config'>, flags: readonly string[]): string[] {
  const configured = Object.keys(checked.config.DISTRIBUTED_STORAGE_CONFIG);
  const targets = flags.length > 0 ? [...new Set(flags)] : checked.config.DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS;
  if (targets.length === 0) {
    throw new CliError('quayside storage backfill: DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS is empty; name the location(s) to fill with --location', 2);
  }
  for (const name of targets) {
    if (!configured.includes(name)) {
      throw new CliError(`quayside storage backfill: --location ${JSON.stringify(name)} is not in DISTRIBUTED_STORAGE_CONFIG (${configured.join(', ') || 'none'})`, 2);
    }
  }
  return targets;
}

/**
 * Queues a replication job for every recorded blob that has no placement in each target location, a page at
 * a time. Safe while instances serve: enqueueing is idempotent (one job per blob and location), the copies
 * are made by the serving instances' replication workers, and a blob pushed meanwhile is queued by its push.
 */
export async function runBackfill(database: Database, targets: readonly string[]): Promise<BackfillSummary[]> {
  const audit = new PlacementAudit(database);
  const placements = new KyselyPlacementIndex(database, Date.now);
  const queue = new KyselyReplicationQueue(database, Date.now);
  const progress = progressWriter();
  const summaries: BackfillSummary[] = [];
  const blobs = await audit.countBlobs();
  for (const location of targets) {
    const total = await audit.countBlobsMissingFrom(location);
    const phase = `backfill ${location}`;
    let queued = 0;
    if (total > 0) progress({ phase, done: 0, total });
    for (let after: string | undefined; ; ) {
      const page = await placements.blobsMissingFrom(location, { ...(after !== undefined && { after }), limit: PAGE });
      if (page.length === 0) break;
      await queue.enqueue(page.map(({ digest }) => ({ digest, location })));
      queued += page.length;
      after = page[page.length - 1]!.digest;
      if (queued < total) progress({ phase, done: queued, total });
    }
    // Blobs pushed since the count may make `queued` overtake it: the bar ends at whichever is more.
    if (total > 0 || queued > 0) progress({ phase, done: Math.max(total, queued), total: Math.max(total, queued) });
    summaries.push({ location, queued, alreadyThere: Math.max(0, blobs - queued) });
  }
  return summaries;
}
