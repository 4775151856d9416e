/**
 * Multipart arithmetic, pure: S3's limits, how a commit copies a big object in ranges, and where a
 * truncation may cut an upload made of whole parts and a staged tail.
 */

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** S3's smallest part (every part but the last must be at least this big). */
export const MIN_PART_BYTES = 5 * MiB;
/** S3's biggest part, and the biggest object a single CopyObject may copy. */
export const MAX_PART_BYTES = 5 * GiB;
export const MAX_SINGLE_COPY_BYTES = 5 * GiB;
/** S3's most parts in one multipart upload. */
export const MAX_PARTS = 10_000;

/** One ranged UploadPartCopy: bytes start..end (inclusive) of the source become part `partNumber`. */
export interface CopyPart {
  partNumber: number;
  start: number;
  end: number;
}

/**
 * The ranges of a multipart copy of a `size`-byte object in parts of `maxPartBytes` (clamped to S3's
 * limits), raised as needed so that no more than MAX_PARTS parts are used. Every part but the last is
 * the same size, so all but the last are at least MIN_PART_BYTES.
 */
export function planCopyParts(size: number, maxPartBytes: number): CopyPart[] {
  if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`cannot plan a copy of ${size} bytes`);
  let partBytes = Math.min(Math.max(Math.floor(maxPartBytes), MIN_PART_BYTES), MAX_PART_BYTES);
  partBytes = Math.max(partBytes, Math.ceil(size / MAX_PARTS));
  if (partBytes > MAX_PART_BYTES) throw new RangeError(`${size} bytes exceed S3's largest object (${MAX_PARTS} parts of 5 GiB)`);
  const parts: CopyPart[] = [];
  for (let start = 0, partNumber = 1; start < size; start += partBytes, partNumber += 1) {
    parts.push({ partNumber, start, end: Math.min(start + partBytes, size) - 1 });
  }
  return parts;
}

/** How a commit moves the assembled upload to its blob key. */
export type CopyPlan = { kind: 'single' } | { kind: 'multipart'; parts: CopyPart[] };

/**
 * One CopyObject up to S3's 5 GiB limit (or always, when the server copies any size itself and its
 * multipart copy is missing or unreliable), else a multipart copy in ranges.
 */
export function planCopy(
  size: number,
  options: { multipartCopy: boolean; maxPartBytes: number; singleCopyLimitBytes?: number },
): CopyPlan {
  const limit = Math.min(options.singleCopyLimitBytes ?? MAX_SINGLE_COPY_BYTES, MAX_SINGLE_COPY_BYTES);
  if (!options.multipartCopy || size <= limit) return { kind: 'single' };
  return { kind: 'multipart', parts: planCopyParts(size, options.maxPartBytes) };
}

/** An upload's counted bytes: its first `parts` parts, then the staged tail. */
export interface UploadShape {
  /** Sizes of the counted parts, in part-number order (parts 1..n). */
  partSizes: readonly number[];
  tailBytes: number;
}

/** What truncating to a size keeps: the first `parts` parts and the first `tailBytes` bytes of the tail. */
export type TruncatePlan =
  | { kind: 'keep'; parts: number; tailBytes: number }
  | { kind: 'previous' }
  | { kind: 'impossible'; reason: 'beyond-end' | 'inside-part' };

/**
 * Where truncating `shape` to `size` bytes cuts. Parts of a multipart upload cannot be read back or cut,
 * so the size must fall on a part boundary or inside the tail; otherwise, when it is the size before the
 * last append (whose first part began with the previous tail), the previous state is restored.
 */
export function planTruncate(shape: UploadShape, size: number, previousSize: number | undefined): TruncatePlan {
  const partBytes = shape.partSizes.reduce((sum, bytes) => sum + bytes, 0);
  const total = partBytes + shape.tailBytes;
  if (!Number.isSafeInteger(size) || size < 0 || size > total) return { kind: 'impossible', reason: 'beyond-end' };
  if (size >= partBytes) return { kind: 'keep', parts: shape.partSizes.length, tailBytes: size - partBytes };
  let boundary = 0;
  for (let parts = 0; parts <= shape.partSizes.length; parts += 1) {
    if (boundary === size) return { kind: 'keep', parts, tailBytes: 0 };
    boundary += shape.partSizes[parts] ?? 0;
  }
  if (previousSize === size) return { kind: 'previous' };
  return { kind: 'impossible', reason: 'inside-part' };
}
