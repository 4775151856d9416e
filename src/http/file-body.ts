import { ServerResponse, type IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { TLSSocket } from 'node:tls';
import type { BlobFile } from '../storage/blob-store.js';
import { bytesSentBefore, sendfileAddon } from './sendfile-addon.js';

/**
 * Zero-copy blob bodies (issue 12): the bytes of a local blob file go to the client's socket with sendfile(2),
 * from the page cache, in the libuv threadpool, as nginx and CNCF distribution serve files. Streaming them
 * instead reads each MiB into a JavaScript buffer and writes it on the event loop; with eight parallel pulls
 * that copying saturates the process's one core (bench/README.md). docs/registry.md says when this path is
 * taken; everything it does not cover (TLS, HTTP/2, object storage) keeps the streamed path.
 *
 * The body is a Readable that sends itself: the handler gives it to reply.send() like any stream, so Fastify
 * sets the headers, runs its onSend hooks and ends the response as for a streamed body. When first read it
 * flushes the headers, waits until Node's write queue of the socket is empty (nothing Node wrote may come
 * after our bytes), sends the range but its last TAIL_BYTES in slices, then pushes those last bytes as an
 * ordinary chunk and ends. The tail goes through Node on purpose: a client that has every byte may close the
 * connection at once, and if the kernel had delivered the last byte before the response ended in Node, the
 * close could win the race and the response would never 'finish' (no request log line, no metrics). With the
 * tail written by Node, the end follows in the same turn of the event loop, as on the streamed path.
 */

/**
 * Bytes per native call: small enough that streams queued for a thread take turns, large enough that the
 * gaps between calls (the event loop must run to start the next one, which on a busy machine waits for a
 * core while the socket buffer drains) stay rare. 4 MiB slices made one stream slower than streaming under load.
 */
export const SLICE_BYTES = 16 * 1024 * 1024;
/** The last bytes of each body, pushed through Node rather than sendfile (see above). */
export const TAIL_BYTES = 16 * 1024;
/** A call waits this long at most for room in a full socket, so one slow client never holds a thread for long. */
const BUDGET_MS = 50;
/**
 * After this many calls in a row that moved nothing (each waited BUDGET_MS on a thread), the next one waits
 * STALL_PAUSE_MS on a timer, holding no thread. A busy client often lags one budget behind (a loaded machine,
 * one event loop reading eight streams); pausing at once would leave its connection idle for the pause.
 */
const IDLE_CALLS_BEFORE_PAUSE = 2;
const STALL_PAUSE_MS = 100;
/** A client that takes no byte for this long is cut, when the socket has no timeout of its own. */
const DEFAULT_IDLE_MS = 60_000;
/** errno codes that mean the client went away (or stopped reading) rather than the storage failing. */
const CLIENT_GONE = new Set(['EPIPE', 'ECONNRESET', 'ENOTCONN', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Native calls in flight at once in this process: one fewer than the threadpool's threads (UV_THREADPOOL_SIZE as
 * Node started, default 4), so file opens, stats and streamed reads always find a thread; a call lasts at most
 * one slice or BUDGET_MS of waiting, so a queued send waits milliseconds, not for a slow client.
 */
const THREADS = Math.min(1024, Math.max(1, Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '', 10) || 4));
const MAX_CALLS = Math.max(1, THREADS - 1);

/** A first-come first-served bound on concurrent native calls. */
class CallSlots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await call();
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) this.running -= 1;
      else next();
    }
  }
}

const slots = new CallSlots(MAX_CALLS);

/** Bytes each response sent with sendfile: they never pass res.write, where the request log counts the rest. */
const directBytes = new WeakMap<ServerResponse, number>();

/** The bytes this response sent with sendfile, or undefined when it did not take that path. */
export function bytesSentDirectly(response: ServerResponse): number | undefined {
  return directBytes.get(response);
}

/** Each response's sendfile loop while it runs: a sendfile call in flight counts its bytes when it returns. */
const sending = new WeakMap<ServerResponse, Promise<void>>();

/**
 * Settles once this response's sendfile loop has stopped, so bytesSentDirectly counts every byte it moved
 * (a client that left mid-call is seen when the call returns, after the response has closed); resolves at
 * once for a response that did not take that path.
 */
export function directSendSettled(response: ServerResponse): Promise<void> {
  return sending.get(response) ?? Promise.resolve();
}

function noteSent(response: ServerResponse, bytes: number): void {
  directBytes.set(response, (directBytes.get(response) ?? 0) + bytes);
}

/** The socket's descriptor while Node still holds it open, else undefined. */
function descriptorOf(socket: Socket): number | undefined {
  const fd = (socket as Socket & { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** Where a body can be sent with sendfile: an HTTP/1.x response on a plain TCP socket that has a descriptor. */
export interface ZeroCopyTarget {
  response: ServerResponse;
  socket: Socket;
}

/**
 * The response's socket when sendfile can write the body to it: HTTP/1.x (not an HTTP/2 stream), a plain
 * net.Socket (not TLS: the kernel would send the bytes unencrypted) with a real descriptor (a socket handed
 * over by the cluster primary has one; a stream-wrapped socket does not), on a platform with sendfile.
 */
export function zeroCopyTarget(request: IncomingMessage | object, response: ServerResponse | object): ZeroCopyTarget | undefined {
  if (!sendfileAddon.supported || !(response instanceof ServerResponse)) return undefined;
  if ((request as Partial<IncomingMessage>).httpVersionMajor !== 1) return undefined;
  const socket = response.socket;
  if (!(socket instanceof Socket) || socket instanceof TLSSocket || socket.destroyed) return undefined;
  if (descriptorOf(socket) === undefined) return undefined;
  return { response, socket };
}

function isClientGone(error: unknown): boolean {
  return CLIENT_GONE.has(String((error as { code?: unknown } | undefined)?.code));
}

/** The body of a blob response sent with sendfile from `file`, bytes start .. start + length - 1. */
export class FileBody extends Readable {
  private started = false;

  constructor(
    private readonly target: ZeroCopyTarget,
    private readonly file: BlobFile,
    private readonly start: number,
    private readonly length: number,
  ) {
    super();
    noteSent(target.response, 0);
  }

  override _read(): void {
    if (this.started) return;
    this.started = true;
    const sent = this.send();
    sending.set(this.target.response, sent.then(() => undefined, () => undefined));
    sent.then(
      (tail) => {
        if (tail === undefined) return;
        if (tail.length > 0) this.push(tail);
        this.push(null);
      },
      (error: unknown) => this.destroy(error instanceof Error ? error : new Error(String(error))),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // The native call holds its own duplicate of the descriptor, so closing here never pulls a file from under it.
    this.file.handle.close().then(
      () => callback(error),
      (closeError: unknown) => callback(error ?? (closeError instanceof Error ? closeError : null)),
    );
  }

  /** The tail to push once every other byte went out; undefined when the client or the stream went away first. */
  private async send(): Promise<Buffer | undefined> {
    const { response, socket } = this.target;
    response.flushHeaders();
    // Node's own queue (the headers) must reach the kernel before our first byte does.
    await new Promise<void>((resolve) => socket.write('', () => resolve()));
    const idleMs = socket.timeout !== undefined && socket.timeout > 0 ? socket.timeout : DEFAULT_IDLE_MS;
    const direct = this.length - Math.min(this.length, TAIL_BYTES);
    let sent = 0;
    let lastProgress = Date.now();
    let idleCalls = 0;
    while (sent < direct) {
      const offset = this.start + sent;
      const wanted = Math.min(SLICE_BYTES, direct - sent);
      let moved: number;
      try {
        // The descriptors are read at the call, after any wait for a slot: only then are they known to be open.
        moved = await slots.run(() => {
          const fd = descriptorOf(socket);
          if (this.destroyed || socket.destroyed || fd === undefined) return Promise.resolve(-1);
          return sendfileAddon.send(fd, this.file.handle.fd, offset, wanted, BUDGET_MS);
        });
      } catch (error) {
        noteSent(response, bytesSentBefore(error));
        if (!isClientGone(error)) throw error;
        socket.destroy();
        return undefined;
      }
      if (moved < 0) return undefined;
      noteSent(response, moved);
      sent += moved;
      if (moved > 0) {
        idleCalls = 0;
        lastProgress = Date.now();
        // Bytes moved where Node cannot see them: restart the socket's inactivity timer as a write would.
        if (socket.timeout !== undefined && socket.timeout > 0) socket.setTimeout(socket.timeout);
      } else if (Date.now() - lastProgress >= idleMs) {
        // The client stopped reading: the same fate as on the streamed path (HTTP_BODY_IDLE_TIMEOUT_S).
        socket.destroy();
        return undefined;
      } else if (++idleCalls >= IDLE_CALLS_BEFORE_PAUSE) {
        await delay(STALL_PAUSE_MS);
      }
    }
    if (this.destroyed) return undefined;
    const tail = Buffer.allocUnsafe(this.length - direct);
    const { bytesRead } = await this.file.handle.read(tail, 0, tail.length, this.start + direct);
    if (bytesRead !== tail.length) {
      throw Object.assign(new Error(`blob file ended at byte ${this.start + direct + bytesRead}, before the ${this.start + this.length} announced`), { code: 'ERR_SENDFILE_SHORT' });
    }
    return tail;
  }
}
