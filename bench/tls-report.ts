// The TLS benchmark's figures as one table: quayside over plain HTTP and over PROXY+TLS in the same run, the
// TLS cost between them against its target, then distribution over TLS and the ratio quayside/distribution.

/** A measured figure (the median of its runs) or why it could not be measured. */
export type Measured = { median: number; runs: number[] } | { error: string };

export interface TlsRow {
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  quaysideHttp: Measured;
  quaysideTls: Measured;
  distributionTls: Measured;
  /** The most TLS may cost (0.15 = 15 %), when the row has a target. */
  maxTlsCost?: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function measured(runs: number[]): Measured {
  return runs.length === 0 ? { error: 'no run' } : { median: median(runs), runs };
}

/**
 * What TLS costs as extra time per unit of work: http/tls - 1 for a rate (req/s, MB/s), tls/http - 1 for a
 * duration. 0.15 = each request takes 15 % longer over TLS (a rate 13 % lower).
 */
export function tlsCost(row: TlsRow): number | undefined {
  if (!('median' in row.quaysideHttp) || !('median' in row.quaysideTls)) return undefined;
  const http = row.quaysideHttp.median;
  const tls = row.quaysideTls.median;
  return row.better === 'higher' ? http / tls - 1 : tls / http - 1;
}

/** quayside/distribution over TLS, as "how many times better" (above 1: quayside better). */
export function advantage(row: TlsRow): number | undefined {
  if (!('median' in row.quaysideTls) || !('median' in row.distributionTls)) return undefined;
  return row.better === 'higher' ? row.quaysideTls.median / row.distributionTls.median : row.distributionTls.median / row.quaysideTls.median;
}

function format(value: number): string {
  if (value >= 1000) return Math.round(value).toLocaleString('en-US');
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function cell(value: Measured): string {
  return 'median' in value ? format(value.median) : 'error';
}

export function verdictOf(row: TlsRow): string {
  const cost = tlsCost(row);
  if (row.maxTlsCost === undefined) return '';
  if (cost === undefined) return 'error';
  return `${cost <= row.maxTlsCost ? 'PASS' : 'MISS'} (<= ${Math.round(row.maxTlsCost * 100)} %)`;
}

/** The table, then each row's individual runs and any errors. */
export function renderTlsTable(rows: TlsRow[]): string {
  const header = ['figure', 'quayside HTTP', 'quayside PROXY+TLS', 'TLS cost', 'target', 'distribution TLS', 'q/d over TLS'];
  const body = rows.map((row) => {
    const cost = tlsCost(row);
    const ratio = advantage(row);
    return [
      `${row.label} (${row.unit})`,
      cell(row.quaysideHttp),
      cell(row.quaysideTls),
      cost === undefined ? 'error' : `${cost >= 0 ? '+' : ''}${(cost * 100).toFixed(1)} %`,
      verdictOf(row),
      cell(row.distributionTls),
      ratio === undefined ? 'error' : `${ratio.toFixed(2)}x${ratio >= 1 ? '' : ' (slower)'}`,
    ];
  });
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((line) => (line[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((text, i) => (i === 0 ? text.padEnd(widths[i] ?? 0) : text.padStart(widths[i] ?? 0))).join('  ');
  const out = [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...body.map(line), ''];
  for (const row of rows) {
    const runs = (name: string, value: Measured) => `${name} ${'median' in value ? value.runs.map(format).join(', ') : `error: ${value.error}`}`;
    out.push(`${row.label}: ${[runs('quayside HTTP', row.quaysideHttp), runs('PROXY+TLS', row.quaysideTls), runs('distribution TLS', row.distributionTls)].join('; ')}`);
  }
  return out.join('\n');
}
