const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Milliseconds of a Quay duration ("30m", "2w"); undefined when it is not one. */
export function parseQuayDuration(text: string): number | undefined {
  const match = /^([0-9]+)([smhdw])$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}
