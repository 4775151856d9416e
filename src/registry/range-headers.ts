import type { ByteRange } from '../storage/blob-store.js';

/**
 * HTTP Range (RFC 9110 §14) for blob GETs, and Content-Range for upload PATCHes. Pure functions:
 * any string a client sends yields a value, never an exception.
 */

// More ranges than this is not a real client; ignoring the header (serving 200) is allowed by RFC 9110.
const MAX_RANGE_SPECS = 64;
const INT_RANGE_RE = /^(\d+)-(\d*)$/;
const SUFFIX_RANGE_RE = /^-(\d+)$/;

type RangeSpec = { kind: 'int'; first: number; last: number | undefined } | { kind: 'suffix'; length: number };

// Digit strings too long for a double become huge or Infinity: still ordered correctly against `size`.
function parseSpec(text: string): RangeSpec | undefined {
  const int = INT_RANGE_RE.exec(text);
  if (int !== null) {
    const first = Number(int[1]);
    const last = int[2] === '' ? undefined : Number(int[2]);
    // RFC 9110: an int-range whose last-pos is below its first-pos is invalid (not unsatisfiable).
    if (last !== undefined && last < first) return undefined;
    return { kind: 'int', first, last };
  }
  const suffix = SUFFIX_RANGE_RE.exec(text);
  if (suffix !== null) return { kind: 'suffix', length: Number(suffix[1]) };
  return undefined;
}

/** The satisfiable part of one spec against a representation of `size` bytes, or undefined. */
function resolveSpec(spec: RangeSpec, size: number): ByteRange | undefined {
  if (spec.kind === 'int') {
    if (spec.first >= size) return undefined;
    const end = spec.last === undefined || spec.last >= size ? size - 1 : spec.last;
    return { start: spec.first, end };
  }
  if (spec.length === 0 || size === 0) return undefined;
  return { start: spec.length >= size ? 0 : size - spec.length, end: size - 1 };
}

/**
 * HTTP Range for GET of a blob of `size` bytes: undefined = no/ignorable header (serve all, 200);
 * 'unsatisfiable' = 416; else the single inclusive range to serve with 206.
 */
export function parseRangeHeader(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`blob size must be a non-negative integer, not ${size}`);
  if (typeof header !== 'string') return undefined;
  const equals = header.indexOf('=');
  if (equals < 0) return undefined;
  // Range units are case-insensitive; any unit other than bytes is ignored.
  if (header.slice(0, equals).trim().toLowerCase() !== 'bytes') return undefined;
  // List syntax (#rule): elements separated by commas with optional whitespace; empty elements are allowed.
  const texts = header
    .slice(equals + 1)
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (texts.length === 0 || texts.length > MAX_RANGE_SPECS) return undefined;

  const specs: RangeSpec[] = [];
  for (const text of texts) {
    const spec = parseSpec(text);
    // One malformed spec makes the whole header invalid, and an invalid Range is ignored.
    if (spec === undefined) return undefined;
    specs.push(spec);
  }

  const satisfiable = specs.flatMap((spec) => resolveSpec(spec, size) ?? []);
  if (satisfiable.length === 1) return satisfiable[0];
  if (satisfiable.length > 1) return undefined; // multipart/byteranges is not offered: serve the whole blob
  // A zero-length blob with a non-zero suffix is satisfiable per RFC 9110 but selects nothing: serve all (empty).
  if (size === 0 && specs.some((spec) => spec.kind === 'suffix' && spec.length > 0)) return undefined;
  return 'unsatisfiable';
}

const UPLOAD_RANGE_RE = /^(?:bytes[ =])?\s*(\d+)-(\d+)(?:\/(\d+|\*))?$/i;

/**
 * Content-Range of an upload PATCH: 'a-b' (distribution style, inclusive), 'bytes a-b/*' or
 * 'bytes a-b/total'; undefined when malformed, b < a, or b is beyond a stated total.
 */
export function parseUploadContentRange(header: string): ByteRange | undefined {
  if (typeof header !== 'string' || header.length > 200) return undefined;
  const match = UPLOAD_RANGE_RE.exec(header.trim());
  if (match === null) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  const hasPrefix = /^bytes/i.test(header.trim());
  const total = match[3];
  // The '/total' suffix belongs to the RFC form only; the bare distribution form has none.
  if (total !== undefined && !hasPrefix) return undefined;
  if (total !== undefined && total !== '*') {
    const length = Number(total);
    if (!Number.isSafeInteger(length) || end >= length) return undefined;
  }
  return { start, end };
}
