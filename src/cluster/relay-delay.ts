/** The test-only environment variable that delays the primary's relay of cache invalidations (docs/workers.md). */
export const RELAY_DELAY_ENV = 'QUAYSIDE_TEST_RELAY_DELAY_MS';

/** A QUAYSIDE_TEST_RELAY_DELAY_MS that is not a whole number of milliseconds; its message is the one line to show. */
export class RelayDelayError extends Error {}

/**
 * Test only: how long the primary holds each invalidation before relaying it (0 unless set), to play a primary
 * starved of CPU in a controlled way. Refused when it is not 0 to 60000 ms, rather than silently ignored.
 */
export function relayDelayFrom(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d+$/.test(value) || Number(value) > 60_000) throw new RelayDelayError(`${RELAY_DELAY_ENV}: expected milliseconds from 0 to 60000, got ${JSON.stringify(value)}`);
  return Number(value);
}
