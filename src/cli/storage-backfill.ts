import type { Database } from '../db/database.js';
import { KyselyNamespaceLocationStore } from '../db/namespace-locations.js';
import { PlacementAudit } from '../db/placement-audit.js';
import { KyselyPlacementIndex } from '../db/placements.js';
import { KyselyReplicationQueue } from '../db/replication-jobs.js';
import type { RequiredBlobs } from '../db/required-blobs.js';
import type { CheckedConfig } from './runtime.js';
import { CliError } from './cli-error.js';
import { progressWriter } from './gc.js';

/** Blobs read and queued per round trip. */
const PAGE = 500;

/** One location a backfill fills, and which blobs it must hold. */
export interface BackfillTarget {
  location: string;
  required: RequiredBlobs;
  /** listing-namespaces: the namespaces whose blobs these are (for the summary). */
  namespaces?: string[];
}

export interface BackfillSummary extends BackfillTarget {
  queued: number;
  alreadyThere: number;
}

/** Checks the --location flags against DISTRIBUTED_STORAGE_CONFIG before anything is opened: one CliError line. */
export function checkBackfillFlags(checked: Pick<CheckedConfig, 'config'>, flags: readonly string[]): void {
  const configured = Object.keys(checked.config.DISTRIBUTED_STORAGE_CONFIG);
  for (const name of flags) {
    if (!configured.includes(name)) {
      throw new CliError(`quayside storage backfill: --location ${JSON.stringify(name)} is not in DISTRIBUTED_STORAGE_CONFIG (${configured.join(', ') || 'none'})`, 2);
    }
  }
}

/**
 * The locations a backfill fills and which blobs each must hold (docs/geo-replication.md): a location of
 * DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS every blob; another one that namespaces list (Quay's UserRegion) the
 * blobs of those namespaces. Without --location: all of them. With it: those, and a location that nothing
 * requires is filled with every blob, as asked. A namespace location no longer configured is skipped with a
 * warning (`warn`). One CliError line when there is nothing to fill.
 */
export async function backfillTargets(
  checked: Pick<CheckedConfig, 'config'>,
  flags: readonly string[],
  database: Database,
  warn: (line: string) => void,
): Promise<BackfillTarget[]> {
  const configured = Object.keys(checked.config.DISTRIBUTED_STORAGE_CONFIG);
  const defaults = checked.config.DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS;
  const store = new KyselyNamespaceLocationStore(database, Date.now);
  const listed = (await store.listedLocations()).filter((name) => {
    if (configured.includes(name)) return true;
    warn(`warning: a namespace lists storage location ${JSON.stringify(name)}, which is not in DISTRIBUTED_STORAGE_CONFIG; skipped`);
    return false;
  });
  const names = flags.length > 0 ? [...new Set(flags)] : [...new Set([...defaults, ...listed])];
  if (names.length === 0) {
    throw new CliError(
      'quayside storage backfill: DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS is empty and no namespace lists a storage location; name the location(s) to fill with --location',
      2,
    );
  }
  const targets: BackfillTarget[] = [];
  for (const location of names) {
    if (defaults.includes(location) || !listed.includes(location)) targets.push({ location, required: 'every-blob' });
    else targets.push({ location, required: 'listing-namespaces', namespaces: await store.namespacesListing(location) });
  }
  return targets;
}

/**
 * Queues a replication job for every recorded blob that a target location must hold and has no placement
 * in, a page at a time. Safe while instances serve: enqueueing is idempotent (one job per blob and location),
 * the copies are made by the serving instances' replication workers, and a blob pushed meanwhile is queued
 * by its push.
 */
export async function runBackfill(database: Database, targets: readonly BackfillTarget[]): Promise<BackfillSummary[]> {
  const audit = new PlacementAudit(database);
  const placements = new KyselyPlacementIndex(database, Date.now);
  const queue = new KyselyReplicationQueue(database, Date.now);
  const progress = progressWriter();
  const summaries: BackfillSummary[] = [];
  for (const target of targets) {
    const { location, required } = target;
    const total = await audit.countBlobsMissingFrom(location, required);
    const blobs = await audit.countRequiredBlobs(location, required);
    const phase = `backfill ${location}`;
    let queued = 0;
    if (total > 0) progress({ phase, done: 0, total });
    for (let after: string | undefined; ; ) {
      const page = await placements.blobsMissingFrom(location, { ...(after !== undefined && { after }), limit: PAGE, required });
      if (page.length === 0) break;
      await queue.enqueue(page.map(({ digest }) => ({ digest, location })));
      queued += page.length;
      after = page[page.length - 1]!.digest;
      if (queued < total) progress({ phase, done: queued, total });
    }
    // Blobs pushed since the count may make `queued` overtake it: the bar ends at whichever is more.
    if (total > 0 || queued > 0) progress({ phase, done: Math.max(total, queued), total: Math.max(total, queued) });
    summaries.push({ ...target, queued, alreadyThere: Math.max(0, blobs - queued) });
  }
  return summaries;
}
