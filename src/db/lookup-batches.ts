import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/**
 * Most digests one `where digest in (...)` lookup carries. Far below every dialect's bind-parameter
 * limit (SQLite 32766, PostgreSQL and MySQL 65535), and small enough that one lookup is a short query.
 */
export const LOOKUP_BATCH_SIZE = 500;

/**
 * The digests among `digests` that `lookup` reports present, asking at most LOOKUP_BATCH_SIZE at a time,
 * one batch after the other: a request with many references holds one pool connection, never the whole
 * pool, and lets other requests' I/O run between its batches.
 */
export async function presentDigests(
  digests: readonly string[],
  lookup: (batch: string[]) => Promise<string[]>,
): Promise<Set<string>> {
  const unique = [...new Set(digests)];
  const present = new Set<string>();
  for (let start = 0; start < unique.length; start += LOOKUP_BATCH_SIZE) {
    if (start > 0) await yieldToEventLoop();
    for (const digest of await lookup(unique.slice(start, start + LOOKUP_BATCH_SIZE))) present.add(digest);
  }
  return present;
}
