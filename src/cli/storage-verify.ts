import type { Database } from '../db/database.js';
import { PlacementAudit, type PlacementRow } from '../db/placement-audit.js';
import { KyselyPlacementIndex } from '../db/placements.js';
import { KyselyReplicationQueue } from '../db/replication-jobs.js';
import type { StorageLocation } from '../storage/distributed.js';
import { progressWriter } from './gc.js';
import { firstLine } from './runtime.js';

/** Placements read per round trip, and stat calls in flight at once. */
const PAGE = 500;
const CONCURRENCY = 8;

/** What is wrong with one placement. */
export type PlacementProblem = 'missing' | 'wrong-size' | 'unreachable' | 'unknown-location';

export interface VerifyFinding {
  placement: PlacementRow;
  problem: PlacementProblem;
  detail: string;
  /** --repair: the bad object removed, the placement forgotten, a copy queued. */
  repaired: boolean;
}

export interface VerifySummary {
  checked: number;
  ok: number;
  findings: VerifyFinding[];
}

/**
 * Checks that every placement's object exists in its location with the blob's size. A placement whose
 * location cannot be asked (down, or no longer configured) is reported and never repaired: an outage is not
 * a lost copy. With `repair`, a missing or wrong-sized copy is fixed as the replication worker would make it
 * again: the bad object deleted, the placement forgotten (reads stop going there), a job queued. Safe while
 * instances serve: a placement is re-read before it is judged, so one that garbage collection removed
 * meanwhile is not reported; the queued copy is made by the serving instances' workers.
 */
export async function runVerify(
  database: Database,
  locations: readonly StorageLocation[],
  options: { repair: boolean; only?: readonly string[]; onFinding: (finding: VerifyFinding) => void },
): Promise<VerifySummary> {
  const audit = new PlacementAudit(database);
  const placements = new KyselyPlacementIndex(database, Date.now);
  const queue = new KyselyReplicationQueue(database, Date.now);
  const byName = new Map(locations.map((location) => [location.name, location]));
  const progress = progressWriter();
  const total = await audit.countPlacements();
  const summary: VerifySummary = { checked: 0, ok: 0, findings: [] };
  let seen = 0;
  progress({ phase: 'verify', done: 0, total });

  const check = async (placement: PlacementRow): Promise<void> => {
    const problem = await judge(placement, byName.get(placement.location));
    if (problem === undefined) {
      summary.ok += 1;
      return;
    }
    // Collected (or repaired by another run) since the page was read: nothing to say about it.
    if (!(await placements.locationsOf(placement.digest)).includes(placement.location)) {
      summary.ok += 1;
      return;
    }
    let repaired = false;
    const store = byName.get(placement.location)?.store;
    if (options.repair && store !== undefined && (problem.problem === 'missing' || problem.problem === 'wrong-size')) {
      // A wrong object must go first: a copy onto an existing object keeps that object.
      if (problem.problem === 'wrong-size') await store.delete(placement.digest);
      await placements.forgetPlacement(placement.digest, placement.location);
      await queue.enqueue([{ digest: placement.digest, location: placement.location }]);
      repaired = true;
    }
    const finding = { placement, ...problem, repaired };
    summary.findings.push(finding);
    options.onFinding(finding);
  };

  for (let after: { digest: string; location: string } | undefined; ; ) {
    const page = await audit.listPlacements({ ...(after !== undefined && { after }), limit: PAGE });
    if (page.length === 0) break;
    after = page[page.length - 1]!;
    const wanted = page.filter((row) => options.only === undefined || options.only.includes(row.location));
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, wanted.length) }, async () => {
        while (next < wanted.length) {
          const row = wanted[next]!;
          next += 1;
          await check(row);
          summary.checked += 1;
        }
      }),
    );
    seen += page.length;
    if (seen < total) progress({ phase: 'verify', done: seen, total });
  }
  if (total > 0 || seen > 0) progress({ phase: 'verify', done: Math.max(total, seen), total: Math.max(total, seen) });
  return summary;
}

async function judge(placement: PlacementRow, location: StorageLocation | undefined): Promise<{ problem: PlacementProblem; detail: string } | undefined> {
  if (location === undefined) return { problem: 'unknown-location', detail: 'the location is not in DISTRIBUTED_STORAGE_CONFIG' };
  let stat: { size: number } | undefined;
  try {
    stat = await location.store.stat(placement.digest);
  } catch (error) {
    return { problem: 'unreachable', detail: firstLine(error) };
  }
  if (stat === undefined) return { problem: 'missing', detail: 'no object' };
  if (stat.size !== placement.size) return { problem: 'wrong-size', detail: `${stat.size} bytes, the blob has ${placement.size}` };
  return undefined;
}
