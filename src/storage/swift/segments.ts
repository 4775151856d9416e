import type { ClientRequest } from 'node:http';
import type { Readable } from 'node:stream';

/**
 * Cuts a request body into segments of at most `limit` bytes without holding more than one chunk of it:
 * each segment is written straight into its own PUT (chunked transfer), with backpressure.
 */
export class SegmentSource {
  private readonly iterator: AsyncIterator<unknown>;
  private leftover: Buffer | undefined;
  private done = false;

  constructor(body: Readable) {
    this.iterator = body[Symbol.asyncIterator]();
  }

  /** True when the body has no byte left (reads ahead one chunk to know). */
  async ended(): Promise<boolean> {
    if (this.leftover !== undefined && this.leftover.length > 0) return false;
    const next = await this.pull();
    if (next === undefined) return true;
    this.leftover = next;
    return false;
  }

  private async pull(): Promise<Buffer | undefined> {
    while (!this.done) {
      const { value, done } = await this.iterator.next();
      if (done === true) {
        this.done = true;
        return undefined;
      }
      const bytes = toBuffer(value);
      if (bytes.length > 0) return bytes;
    }
    return undefined;
  }

  /** Writes up to `limit` bytes into `request` and ends it; resolves with the number of bytes written. */
  async writeSegment(request: ClientRequest, limit: number): Promise<number> {
    let written = 0;
    while (written < limit) {
      let chunk = this.leftover ?? (await this.pull());
      this.leftover = undefined;
      if (chunk === undefined) break;
      if (chunk.length > limit - written) {
        this.leftover = chunk.subarray(limit - written);
        chunk = chunk.subarray(0, limit - written);
      }
      written += chunk.length;
      if (!request.write(chunk)) await drained(request);
    }
    await new Promise<void>((resolve) => request.end(resolve));
    return written;
  }

  /** Stops reading the body (after a failure), so its producer is not left waiting. */
  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError('upload body must be a byte stream');
}

function drained(request: ClientRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      request.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      request.off('drain', onDrain);
      reject(new Error('the storage connection closed while the segment was being sent'));
    };
    request.once('drain', onDrain);
    request.once('close', onClose);
  });
}
