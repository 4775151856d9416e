// A parser of the Prometheus text exposition format (version 0.0.4), enough to check /metrics in tests:
// # HELP and # TYPE lines, samples with labels (escaped \\, \" and \n in values), histogram and summary series
// (_bucket, _sum, _count belong to their family), NaN and +Inf/-Inf values. Malformed lines throw, naming the line.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
const SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created'];

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const value = Number(text);
  if (Number.isNaN(value)) throw new Error(`not a sample value: ${JSON.stringify(line)}`);
  return value;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const nameMatch = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"/.exec(text.slice(i));
    if (nameMatch === null) throw new Error(`bad labels in ${JSON.stringify(line)}`);
    i += nameMatch[0].length;
    let value = '';
    for (;;) {
      if (i >= text.length) throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
      const char = text[i]!;
      if (char === '\\') {
        const next = text[i + 1];
        value += next === 'n' ? '\n' : next === '"' ? '"' : next === '\\' ? '\\' : `\\${next ?? ''}`;
        i += 2;
      } else if (char === '"') {
        i += 1;
        break;
      } else {
        value += char;
        i += 1;
      }
    }
    labels[nameMatch[1]!] = value;
    const rest = /^\s*,?\s*/.exec(text.slice(i))!;
    i += rest[0].length;
  }
  return labels;
}

/** The families of an exposition, by name. */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const family = (name: string): MetricFamily => {
    let found = families.get(name);
    if (found === undefined) {
      found = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, found);
    }
    return found;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const meta = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line);
      if (meta === null) continue; // a plain comment
      if (meta[1] === 'HELP') family(meta[2]!).help = meta[3]!;
      else family(meta[2]!).type = meta[3]!;
      continue;
    }
    const match = SAMPLE_RE.exec(line);
    if (match === null) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const name = match[1]!;
    const sample = { name, labels: match[3] === undefined ? {} : parseLabels(match[3], line), value: parseValue(match[4]!, line) };
    // A histogram's _bucket/_sum/_count (or a counter's _total) belong to the family declared by TYPE.
    const base = SUFFIXES.map((suffix) => (name.endsWith(suffix) ? name.slice(0, -suffix.length) : undefined)).find((candidate) => candidate !== undefined && families.has(candidate));
    family(families.has(name) ? name : (base ?? name)).samples.push(sample);
  }
  return families;
}

/** The value of the one sample named `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue;
      if (Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) return sample.value;
    }
  }
  return undefined;
}
