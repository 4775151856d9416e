import type { PullStatistics, PullStatisticsLog } from '../stats/pull-recorder.js';
import { startPeriodic } from './periodic.js';

/** How often a process moves its counts to Redis: what a SIGKILL can lose while Redis is up. */
const SPILL_INTERVAL_MS = 1_000;

/** Moves the pull counts to Redis every second and writes them to the database every intervalMs; stop() writes what is left. */
export function startPullStatisticsFlush(statistics: PullStatistics, intervalMs: number, log: PullStatisticsLog): { stop(): Promise<void> } {
  const spill = startPeriodic(() => statistics.spill(), SPILL_INTERVAL_MS, () => undefined);
  const periodic = startPeriodic(() => statistics.flush(), intervalMs, (error) =>
    log.error({ err: error }, 'pull statistics: flush failed; the counts are kept and written on the next flush'),
  );
  return {
    async stop(): Promise<void> {
      await spill.stop();
      await periodic.stop();
      await statistics.close();
    },
  };
}
