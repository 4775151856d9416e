import { addAbortSignal, type Readable } from 'node:stream';
import { PartBuffers } from './part-buffers.js';
import { MAX_PARTS, MIN_PART_BYTES } from './parts.js';

const MIN_GROWTH_BYTES = 256 * 1024;
const EMPTY = Buffer.alloc(0);

/** Uploads one part of the upload's multipart upload; resolves when S3 has it. */
export type PartUploader = (partNumber: number, body: Buffer, signal: AbortSignal | undefined) => Promise<void>;

/** What an append wrote: the sizes of the new parts (numbered from the first one given) and the new tail. */
export interface WrittenParts {
  partSizes: number[];
  tail: Buffer;
  /** Bytes read from the body (not counting the prefix). */
  bodyBytes: number;
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new TypeError('upload body must be a byte stream');
}

/**
 * Cuts `prefix` followed by `body` into parts of `partBytes` and uploads each as it fills, one part in
 * flight while the next fills (two buffers: memory stays at 2 x partBytes whatever the body's size). At
 * the end, a remainder of at least 5 MiB becomes one more (shorter) part; a smaller one is returned as the
 * tail for the caller to stage, since S3 refuses parts under 5 MiB except the last. Part buffers come from
 * `buffers` (the store's, shared by its appends) and go back to it when the append succeeded.
 */
export async function writeParts(options: {
  body: Readable;
  prefix: Buffer;
  partBytes: number;
  firstPartNumber: number;
  upload: PartUploader;
  signal?: AbortSignal;
  buffers?: PartBuffers;
}): Promise<WrittenParts> {
  const { partBytes, upload, signal } = options;
  const buffers = options.buffers ?? new PartBuffers(partBytes);
  if (buffers.partBytes !== partBytes) throw new RangeError(`part buffers of ${buffers.partBytes} bytes for parts of ${partBytes}`);
  signal?.throwIfAborted();
  const body = signal === undefined ? options.body : addAbortSignal(signal, options.body);
  const partSizes: number[] = [];
  let inFlight: Promise<void> | undefined;
  // The first buffer grows with what arrives, so that a small append costs a small buffer, not a part.
  let buffer: Buffer = EMPTY;
  let spare: Buffer | undefined;
  let fill = 0;
  let bodyBytes = 0;

  const send = async (length: number): Promise<void> => {
    const partNumber = options.firstPartNumber + partSizes.length;
    if (partNumber > MAX_PARTS) {
      throw new RangeError(`the upload needs more than ${MAX_PARTS} parts of ${partBytes / (1024 * 1024)} MiB; raise minimum_chunk_size_mb`);
    }
    if (inFlight !== undefined) await inFlight;
    const full = buffer;
    partSizes.push(length);
    inFlight = upload(partNumber, full.subarray(0, length), signal).then(() => {
      spare = full;
    });
    // The failure is seen by whoever awaits inFlight next; this only keeps it from being unhandled meanwhile.
    inFlight.catch(() => undefined);
    buffer = spare ?? EMPTY;
    spare = undefined;
    fill = 0;
  };

  const reserve = (needed: number): void => {
    if (needed <= buffer.length) return;
    // A kept part buffer costs nothing; once a part went out the body is big and the next buffer is a whole
    // part at once; otherwise the first buffer grows with what arrives, so that many small appends at once
    // do not take a part each.
    const size = partSizes.length > 0 ? partBytes : Math.min(partBytes, Math.max(needed, 2 * buffer.length, MIN_GROWTH_BYTES));
    const grown = (size === partBytes ? buffers.take() : undefined) ?? buffers.takeFree() ?? Buffer.allocUnsafe(size);
    buffer.copy(grown, 0, 0, fill);
    buffer = grown;
  };

  const take = async (bytes: Uint8Array): Promise<void> => {
    let done = 0;
    while (done < bytes.length) {
      const n = Math.min(bytes.length - done, partBytes - fill);
      reserve(fill + n);
      buffer.set(bytes.subarray(done, done + n), fill);
      fill += n;
      done += n;
      if (fill === partBytes) await send(fill);
    }
  };

  try {
    await take(options.prefix);
    for await (const chunk of body) {
      signal?.throwIfAborted();
      const bytes = toBytes(chunk);
      bodyBytes += bytes.length;
      await take(bytes);
    }
    signal?.throwIfAborted();
    if (fill >= MIN_PART_BYTES) await send(fill);
    if (inFlight !== undefined) await inFlight;
  } catch (error) {
    // Let the part in flight settle so that nothing runs on after the append failed. Its buffers are not
    // given back: a failed request may not have let go of the bytes it was sending.
    if (inFlight !== undefined) await inFlight.catch(() => undefined);
    throw error;
  }
  const tail = Buffer.from(buffer.subarray(0, fill));
  buffers.give(buffer);
  if (spare !== undefined) buffers.give(spare);
  return { partSizes, tail, bodyBytes };
}
