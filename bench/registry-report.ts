// The registry benchmark's result table: each figure for both registries, the ratio, the target, the verdict.

/** A measured value, or why it could not be measured. */
export type Cell = { value: number } | { error: string };

/** A target: either a minimum ratio quayside/distribution, or a maximum for quayside's own value. */
export type Target = { minRatio: number } | { maxQuayside: number };

/** One line of the table. */
export interface Row {
  label: string;
  unit: string;
  /** Which direction is better for this figure. */
  better: 'higher' | 'lower';
  distribution: Cell;
  quayside: Cell;
  target?: Target;
  note?: string;
}

/** The ratio quayside/distribution, when both values exist and the denominator is not 0. */
export function ratio(row: Row): number | undefined {
  if (!('value' in row.distribution) || !('value' in row.quayside) || row.distribution.value === 0) return undefined;
  return row.quayside.value / row.distribution.value;
}

/** PASS, MISS, or '-' when there is no target or a figure is missing. */
export function verdict(row: Row): 'PASS' | 'MISS' | '-' {
  if (!row.target) return '-';
  if ('maxQuayside' in row.target) {
    return 'value' in row.quayside ? (row.quayside.value < row.target.maxQuayside ? 'PASS' : 'MISS') : '-';
  }
  const r = ratio(row);
  return r === undefined ? '-' : r >= row.target.minRatio ? 'PASS' : 'MISS';
}

function formatValue(cell: Cell): string {
  if ('error' in cell) return 'error';
  const value = cell.value;
  if (value >= 1000) return Math.round(value).toLocaleString('en-US');
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function formatRatio(row: Row): string {
  const r = ratio(row);
  if (r === undefined) return '-';
  if (row.better === 'higher') return `${r.toFixed(2)}x`;
  // For "lower is better" figures q/d < 1 is the good side; also give distribution/quayside, the intuitive way round.
  const inverse = r === 0 ? Number.POSITIVE_INFINITY : 1 / r;
  const [good, bad] = row.unit === 'ms' ? ['faster', 'slower'] : ['smaller', 'larger'];
  const words = inverse >= 1 ? `quayside ${inverse.toFixed(2)}x ${good}` : `quayside ${r.toFixed(2)}x ${bad}`;
  return `${r.toFixed(2)}x (lower is better: ${words})`;
}

function formatTarget(target: Target | undefined, unit: string): string {
  if (!target) return '';
  return 'minRatio' in target ? `>= ${target.minRatio}x` : `< ${target.maxQuayside} ${unit}`;
}

/** Renders the rows as a plain-text table followed by the error messages of failed cells. */
export function renderTable(rows: Row[]): string {
  const header = ['figure', 'unit', 'distribution', 'quayside', 'quayside/distribution', 'target', 'verdict'];
  const lines = rows.map((row) => [
    row.label,
    `${row.unit}${row.better === 'higher' ? ' ^' : ' v'}`,
    formatValue(row.distribution),
    formatValue(row.quayside),
    formatRatio(row),
    formatTarget(row.target, row.unit),
    verdict(row),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => (line[column] ?? '').length)));
  const render = (cells: string[]) =>
    cells.map((cell, column) => (column >= 2 && column <= 3 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0))).join('  ').trimEnd();
  const out = [render(header), widths.map((width) => '-'.repeat(width)).join('  ')];
  for (const line of lines) out.push(render(line));
  out.push('', '^ higher is better, v lower is better');
  const notes = rows.filter((row) => row.note).map((row) => `note: ${row.label}: ${row.note}`);
  const errors = rows.flatMap((row) =>
    (['distribution', 'quayside'] as const).flatMap((who) => {
      const cell = row[who];
      return 'error' in cell ? [`error: ${row.label} (${who}): ${cell.error}`] : [];
    }),
  );
  return [...out, ...notes, ...errors].join('\n');
}
