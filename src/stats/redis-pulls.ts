import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { PullBatch } from '../db/pull-statistics.js';
import { PendingPulls } from './pending-pulls.js';

/**
 * Pull counts in Redis, shared by every instance: each process adds what it counted in memory (one script call
 * per batch: HINCRBY and a "latest" field per entry), and a flush takes the whole live hash by renaming it, so
 * that each count reaches the database once.
 *
 * Fields of the live hash (tags never contain spaces):
 *   `m <manifest id>` pulls, `M <manifest id>` latest pull (ms)
 *   `t <repository id> <tag>` pulls, `T <repository id> <tag>` "<latest pull ms> <manifest digest>"
 */

// Adds a batch: ARGV = manifest entry count, then (id, count, latest) per manifest, then tag entry count, then
// (repository id, tag, digest, count, latest) per tag.
const ADD_BATCH = `
local function latest(field, at, value)
  local current = redis.call('HGET', KEYS[1], field)
  if (not current) or tonumber(string.match(current, '^(%d+)')) <= tonumber(at) then redis.call('HSET', KEYS[1], field, value) end
end
local i = 2
for _ = 1, tonumber(ARGV[1]) do
  redis.call('HINCRBY', KEYS[1], 'm ' .. ARGV[i], ARGV[i + 1])
  latest('M ' .. ARGV[i], ARGV[i + 2], ARGV[i + 2])
  i = i + 3
end
local tags = tonumber(ARGV[i])
i = i + 1
for _ = 1, tags do
  local tag = ARGV[i] .. ' ' .. ARGV[i + 1]
  redis.call('HINCRBY', KEYS[1], 't ' .. tag, ARGV[i + 3])
  latest('T ' .. tag, ARGV[i + 4], ARGV[i + 4] .. ' ' .. ARGV[i + 2])
  i = i + 5
end
return 1`;

/** Entries per script call: bounds the time one call holds Redis. */
const ENTRIES_PER_CALL = 500;

const CLAIM = `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('RENAME', KEYS[1], KEYS[2]) return 1 end return 0`;

/** Turns a claimed hash back into a batch (fields it does not know are ignored). */
export function batchFromHash(fields: Record<string, string>): PullBatch {
  const pending = new PendingPulls();
  for (const [field, value] of Object.entries(fields)) {
    const parts = field.split(' ');
    if (parts[0] === 'm' && parts.length === 2) {
      const at = Number(fields[`M ${parts[1]}`] ?? 0);
      pending.addManifestPull(Number(parts[1]), at, Number(value));
    } else if (parts[0] === 't' && parts.length === 3) {
      const [at = '0', digest = ''] = (fields[`T ${parts[1]} ${parts[2]}`] ?? '').split(' ');
      pending.restore({ tags: [{ repositoryId: Number(parts[1]), tag: parts[2]!, manifestDigest: digest, count: Number(value), lastAt: Number(at) }], manifests: [] });
    }
  }
  return pending.take();
}

export interface RedisPullsOptions {
  /** Key prefix (default quayside:). */
  prefix: string;
  /** A hash claimed this long ago and still there was left by a flusher that died: another takes it over. */
  staleAfterMs: number;
  now: () => number;
}

/** The Redis side of pull statistics: record, and hand what was recorded to a writer once. */
export class RedisPulls {
  private readonly live: string;
  private readonly flushingPattern: string;
  private readonly token = randomBytes(6).toString('hex');
  /** Hashes this process took and has not yet written (a refused write is retried on the next flush). */
  private readonly claimed = new Set<string>();

  constructor(
    private readonly client: Redis,
    private readonly options: RedisPullsOptions,
  ) {
    this.live = `${options.prefix}pulls:live`;
    this.flushingPattern = `${options.prefix}pulls:flushing:`;
  }

  /** Adds a batch of counted pulls to the live hash (in calls of at most ENTRIES_PER_CALL entries). */
  async add(batch: PullBatch): Promise<void> {
    for (let m = 0, t = 0; m < batch.manifests.length || t < batch.tags.length; ) {
      const manifests = batch.manifests.slice(m, m + ENTRIES_PER_CALL);
      const tags = batch.tags.slice(t, t + Math.max(0, ENTRIES_PER_CALL - manifests.length));
      m += manifests.length;
      t += tags.length;
      const args = [
        manifests.length,
        ...manifests.flatMap((e) => [e.manifestId, e.count, e.lastAt]),
        tags.length,
        ...tags.flatMap((e) => [e.repositoryId, e.tag, e.manifestDigest, e.count, e.lastAt]),
      ];
      await this.client.eval(ADD_BATCH, 1, this.live, ...args.map(String));
    }
  }

  private claimName(): string {
    return `${this.flushingPattern}${this.options.now()}:${this.token}:${randomBytes(4).toString('hex')}`;
  }

  /** Takes the live hash, and any hash a dead flusher left behind, for this process to write. */
  private async claim(): Promise<void> {
    const mine = this.claimName();
    if ((await this.client.eval(CLAIM, 2, this.live, mine)) === 1) this.claimed.add(mine);
    const staleBefore = this.options.now() - this.options.staleAfterMs;
    let cursor = '0';
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', `${this.flushingPattern}*`, 'COUNT', 100);
      cursor = next;
      for (const key of keys) {
        if (this.claimed.has(key)) continue;
        const claimedAt = Number(key.slice(this.flushingPattern.length).split(':')[0]);
        if (!(claimedAt < staleBefore)) continue;
        const adopted = this.claimName();
        // RENAME is atomic: of several processes adopting the same hash, one gets it, the others an error.
        const moved = await this.client.rename(key, adopted).then(() => true, () => false);
        if (moved) this.claimed.add(adopted);
      }
    } while (cursor !== '0');
  }

  /**
   * Writes everything recorded so far with `write`, each hash deleted once written. A refused write keeps its
   * hash for the next flush; rejects after trying them all when any was refused. Resolves with the number
   * of pulls written.
   */
  async flush(write: (batch: PullBatch) => Promise<void>): Promise<number> {
    await this.claim();
    let written = 0;
    let failure: unknown;
    for (const key of [...this.claimed]) {
      const batch = batchFromHash(await this.client.hgetall(key));
      try {
        await write(batch);
      } catch (error) {
        failure ??= error;
        continue;
      }
      await this.client.del(key);
      this.claimed.delete(key);
      written += batch.manifests.reduce((sum, m) => sum + m.count, 0);
    }
    if (failure !== undefined) throw failure;
    return written;
  }
}
