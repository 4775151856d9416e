import type { ManifestPulls, PullBatch, TagPulls } from '../db/pull-statistics.js';

/** A manifest as a pull names it: its row id (what the statistics are keyed by) and digest. */
export interface PulledManifest {
  id: number;
  digest: string;
}

/**
 * Pulls counted in memory since the last flush, one entry per tag and per manifest however many pulls: the
 * memory is bounded by what is pulled, not by how often. A pull by tag counts for the tag and its manifest,
 * a pull by digest for the manifest only (as Quay counts them).
 */
export class PendingPulls {
  private tags = new Map<string, TagPulls>();
  private manifests = new Map<number, ManifestPulls>();

  /** Entries held (tags plus manifests). */
  get size(): number {
    return this.tags.size + this.manifests.size;
  }

  addTagPull(repositoryId: number, tag: string, manifest: PulledManifest, at: number, count = 1): void {
    const key = `${repositoryId}\t${tag}`;
    const entry = this.tags.get(key);
    if (entry === undefined) {
      this.tags.set(key, { repositoryId, tag, manifestDigest: manifest.digest, count, lastAt: at });
    } else {
      entry.count += count;
      if (at >= entry.lastAt) {
        entry.lastAt = at;
        entry.manifestDigest = manifest.digest;
      }
    }
    this.addManifestPull(manifest.id, at, count);
  }

  addManifestPull(manifestId: number, at: number, count = 1): void {
    const entry = this.manifests.get(manifestId);
    if (entry === undefined) {
      this.manifests.set(manifestId, { manifestId, count, lastAt: at });
    } else {
      entry.count += count;
      entry.lastAt = Math.max(entry.lastAt, at);
    }
  }

  /** Everything counted so far, emptied. */
  take(): PullBatch {
    const batch = { tags: [...this.tags.values()], manifests: [...this.manifests.values()] };
    this.tags = new Map();
    this.manifests = new Map();
    return batch;
  }

  /** Puts back a batch that could not be written (its counts add to what was counted since). */
  restore(batch: PullBatch): void {
    for (const t of batch.tags) {
      const key = `${t.repositoryId}\t${t.tag}`;
      const entry = this.tags.get(key);
      if (entry === undefined) this.tags.set(key, { ...t });
      else {
        entry.count += t.count;
        if (t.lastAt > entry.lastAt) {
          entry.lastAt = t.lastAt;
          entry.manifestDigest = t.manifestDigest;
        }
      }
    }
    for (const m of batch.manifests) this.addManifestPull(m.manifestId, m.lastAt, m.count);
  }
}
