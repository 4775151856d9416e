import { FAILURE_DECAY_MS } from '../auth/throttle.js';
import type { AccountMetadata } from '../db/account-metadata.js';
import { startPeriodic } from './periodic.js';

/**
 * Removes rows that only ever accumulate: API sessions past their expiry and login-throttle keys whose last
 * failure is older than the decay window (they count as no failures anyway). Idempotent, so every instance
 * may run it.
 */

/** Default pause between two cleanups. */
export const DEFAULT_CLEANUP_INTERVAL_MS = 60 * 60 * 1000;

export interface CleanupLog {
  info(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

/** Cleans up once; resolves with how many sessions and throttle keys were removed. */
export async function cleanupAccounts(accounts: AccountMetadata, now = Date.now()): Promise<{ sessions: number; throttleKeys: number }> {
  const sessions = await accounts.sessions.deleteExpired(new Date(now));
  const throttleKeys = await accounts.throttle.deleteBefore(new Date(now - FAILURE_DECAY_MS));
  return { sessions, throttleKeys };
}

/** Runs cleanupAccounts now and then every intervalMs until stopped; failures are logged, never thrown. */
export function startAccountCleanup(accounts: AccountMetadata, log: CleanupLog, intervalMs = DEFAULT_CLEANUP_INTERVAL_MS): { stop(): Promise<void> } {
  return startPeriodic(
    async () => {
      const removed = await cleanupAccounts(accounts);
      if (removed.sessions + removed.throttleKeys > 0) log.info(removed, 'account cleanup: removed expired sessions and throttle keys');
    },
    intervalMs,
    (error) => log.error({ err: error }, 'account cleanup failed'),
  );
}
