import type { IncomingMessage } from 'node:http';
import { finished, Transform, type TransformCallback } from 'node:stream';
import { noteStreamedBytes } from '../http/buffer-churn.js';
import { RegistryError } from './errors.js';
import type { StreamingHash } from './upload-hasher.js';

/**
 * Streaming a request body into storage with limits: bytes are counted, capped and hashed as they
 * pass, never buffered. The request stream itself is never destroyed by a limit (that would reset
 * the connection before the client reads our 413); its remainder is drained instead.
 */

/** Limits on one streamed body. */
export interface BodyLimits {
  /** More bytes than this fail the stream with BLOB_TOO_LARGE (the layer size limit left). */
  maxBytes?: number;
  /** The body must hold exactly this many bytes (from Content-Range), else SIZE_INVALID. */
  exactBytes?: number;
}

/** Counts, limits and hashes the bytes flowing through it. */
class MeteringTransform extends Transform {
  bytes = 0;
  /** The limit violation this transform raised, if any (the driver may wrap or replace errors). */
  violation: RegistryError | undefined;

  constructor(
    private readonly hash: StreamingHash,
    private readonly limits: BodyLimits,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    const { maxBytes, exactBytes } = this.limits;
    if (maxBytes !== undefined && this.bytes > maxBytes) {
      callback(this.fail(new RegistryError('BLOB_TOO_LARGE', undefined, { maxBytes })));
      return;
    }
    if (exactBytes !== undefined && this.bytes > exactBytes) {
      callback(this.fail(sizeMismatch(exactBytes, this.bytes)));
      return;
    }
    this.hash.update(chunk);
    noteStreamedBytes(chunk.length);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const { exactBytes } = this.limits;
    if (exactBytes !== undefined && this.bytes !== exactBytes) {
      callback(this.fail(sizeMismatch(exactBytes, this.bytes)));
      return;
    }
    callback();
  }

  private fail(error: RegistryError): RegistryError {
    this.violation = error;
    return error;
  }
}

function sizeMismatch(expected: number, received: number): RegistryError {
  return new RegistryError('SIZE_INVALID', 'chunk length does not match the declared range', {
    expected,
    received: received > expected ? `more than ${expected}` : received,
  });
}

/** A request body opened for streaming into storage. */
export interface MeteredBody {
  /** Pass this to the storage driver. */
  readonly stream: Transform;
  /** Aborted when the client goes away before the body ended. */
  readonly signal: AbortSignal;
  /** Bytes that passed so far. */
  bytes(): number;
  /** Why streaming failed, as the error to answer with: a limit, a disconnect, or `driverError` itself. */
  explain(driverError: unknown): unknown;
  /** Detaches from the request and discards whatever of it is left unread; idempotent. */
  release(): void;
}

/** The meter of each request whose body was streamed into storage (for the request's metrics). */
const metersByRequest = new WeakMap<IncomingMessage, MeteringTransform>();
let streaming = 0;

/** Blob bytes of `request`'s body that passed into storage (0 when it had none). */
export function streamedBodyBytes(request: IncomingMessage): number {
  return metersByRequest.get(request)?.bytes ?? 0;
}

/** Request bodies being streamed into storage in this process right now. */
export function bodiesInProgress(): number {
  return streaming;
}

/** Streams `source` through a meter that hashes into `hash` and enforces `limits`. */
export function meterRequestBody(source: IncomingMessage, hash: StreamingHash, limits: BodyLimits): MeteredBody {
  const meter = new MeteringTransform(hash, limits);
  metersByRequest.set(source, meter);
  streaming += 1;
  let counted = true;
  const done = () => {
    if (counted) streaming -= 1;
    counted = false;
  };
  finished(meter, done);
  meter.once('close', done);
  const controller = new AbortController();
  let clientGone = false;
  const stopWatching = finished(source, (error) => {
    if (error === undefined || error === null) return;
    clientGone = true;
    controller.abort(error);
    if (!meter.destroyed) meter.destroy(new RegistryError('BLOB_UPLOAD_INVALID', 'client disconnected mid-upload'));
  });
  // A limit error on the meter makes pipe() detach; release() then drains the rest.
  meter.on('error', () => undefined);
  source.pipe(meter);
  let released = false;
  return {
    stream: meter,
    signal: controller.signal,
    bytes: () => meter.bytes,
    explain(driverError: unknown): unknown {
      if (meter.violation !== undefined) return meter.violation;
      if (clientGone) return new RegistryError('BLOB_UPLOAD_INVALID', 'client disconnected mid-upload');
      return driverError;
    },
    release(): void {
      if (released) return;
      released = true;
      stopWatching();
      source.unpipe(meter);
      if (!meter.destroyed) meter.destroy();
      // Draining keeps the connection usable for the response; Node's own dump does not run once
      // the body has been partly consumed.
      if (!source.destroyed && !source.readableEnded) source.resume();
    },
  };
}

/** The request's Content-Length, or undefined when absent (chunked transfer encoding). */
export function declaredLength(source: IncomingMessage): number | undefined {
  const header = source.headers['content-length'];
  if (header === undefined) return undefined;
  // Node's parser rejects malformed values before we get here; this guards direct callers.
  const value = Number(header);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RegistryError('SIZE_INVALID', 'invalid Content-Length', { contentLength: String(header).slice(0, 100) });
  }
  return value;
}

/** True when the request carries a body (a positive Content-Length or a transfer encoding). */
export function hasBody(source: IncomingMessage): boolean {
  if (source.headers['transfer-encoding'] !== undefined) return true;
  const length = declaredLength(source);
  return length !== undefined && length > 0;
}
