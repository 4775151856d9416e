import type { Config } from '../config/schema.js';
import { parseQuayDuration } from './duration.js';

const TWO_WEEKS_MS = 14 * 24 * 3_600_000;

/** The garbage collector's timings from the configuration (the schema has checked the duration's form). */
export function gcOptionsFrom(config: Config): { intervalMs: number; timeMachineMs: number; graceMs: number } {
  return {
    intervalMs: config.GC_INTERVAL_S * 1000,
    timeMachineMs: parseQuayDuration(config.DEFAULT_TAG_EXPIRATION) ?? TWO_WEEKS_MS,
    graceMs: config.PUSH_TEMP_TAG_EXPIRATION_SEC * 1000,
  };
}
