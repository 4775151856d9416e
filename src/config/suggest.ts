/** Edit distance (insertions, deletions, substitutions, adjacent swaps) between two keys, case-insensitive. */
function distance(a: string, b: string): number {
  const s = a.toUpperCase();
  const t = b.toUpperCase();
  const rows: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i, ...Array<number>(t.length).fill(0)]);
  for (let j = 1; j <= t.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[s.length]![t.length]!;
}

/**
 * The known key closest to a misspelt one, when it is close enough to be what was meant: at most a third of
 * the key's letters differ (DB_URl -> DB_URI, FEATURE_ANONYMOUS_ACCES -> FEATURE_ANONYMOUS_ACCESS).
 */
export function closestKey(key: string, known: Iterable<string>): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const d = distance(key, candidate);
    if (best === undefined || d < best.distance || (d === best.distance && candidate < best.key)) best = { key: candidate, distance: d };
  }
  if (best === undefined) return undefined;
  return best.distance <= Math.max(2, Math.floor(key.length / 3)) ? best.key : undefined;
}
