import type { PullStatistics, PullStatisticsLog } from '../stats/pull-recorder.js';
import { startPeriodic } from './periodic.js';

/** Writes the pull statistics to the database every intervalMs; stop() writes what is left. */
export function startPullStatisticsFlush(statistics: PullStatistics, intervalMs: number, log: PullStatisticsLog): { stop(): Promise<void> } {
  const periodic = startPeriodic(() => statistics.flush(), intervalMs, (error) =>
    log.error({ err: error }, 'pull statistics: flush failed; the counts are kept and written on the next flush'),
  );
  return {
    async stop(): Promise<void> {
      await periodic.stop();
      await statistics.close();
    },
  };
}
