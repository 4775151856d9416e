import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * One HTTP exchange with a Swift proxy or Keystone, on node:http so that bodies stream both ways with
 * backpressure: a connect timeout, an inactivity timeout (no byte either way for that long), an AbortSignal,
 * and `Expect: 100-continue` for streamed bodies (a 401 then arrives before a byte of the body is consumed).
 */

/** The backend could not be talked to at all: refused, reset, timed out. Never a status code. */
export class SwiftTransportError extends Error {
  constructor(
    message: string,
    /** ECONNREFUSED, ETIMEDOUT, ECONNRESET, ... */
    readonly code: string,
    options?: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'SwiftTransportError';
  }
}

/** What writes a streamed request body; it must end the request. */
export type BodyWriter = (request: ClientRequest) => Promise<void>;

export interface HttpExchange {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  /** A replayable body, or a writer (sent after 100 Continue). */
  body?: Buffer | string | BodyWriter;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The response body; the caller must consume or destroy it. */
  body: IncomingMessage;
}

export interface TransportOptions {
  connectTimeoutMs: number;
  /** Inactivity timeout of an exchange (waiting for headers, or between body bytes). */
  idleTimeoutMs: number;
  /** PEM CAs to trust for https (system roots are added by the caller when wanted). */
  ca?: () => string[] | undefined;
}

/** The error an aborted operation rejects with: the signal's own AbortError, or one carrying its reason. */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const error = new Error('the operation was aborted', { cause: reason });
  error.name = 'AbortError';
  return error;
}

export class HttpTransport {
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  private httpsAgent: HttpsAgent | undefined;

  constructor(private readonly options: TransportOptions) {}

  private agentFor(url: URL): HttpAgent | HttpsAgent {
    if (url.protocol === 'http:') return this.httpAgent;
    this.httpsAgent ??= new HttpsAgent({ keepAlive: true, maxSockets: 64, ca: this.options.ca?.() });
    return this.httpsAgent;
  }

  /** Sends one request; resolves with the response head (body still streaming). */
  send(exchange: HttpExchange): Promise<HttpResponse> {
    const { signal } = exchange;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const writer = typeof exchange.body === 'function' ? exchange.body : undefined;
    const fixed = typeof exchange.body === 'function' ? undefined : exchange.body;
    const headers: Record<string, string> = { ...exchange.headers };
    if (fixed !== undefined) headers['content-length'] = String(Buffer.byteLength(fixed));
    else if (writer === undefined && ['PUT', 'POST'].includes(exchange.method)) headers['content-length'] = '0';
    if (writer !== undefined) {
      headers['transfer-encoding'] = 'chunked';
      headers.expect = '100-continue';
    }
    const send = exchange.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const fail = (error: Error) => {
        clearTimeout(connectTimer);
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        request.destroy();
        reject(error);
      };
      const onAbort = () => fail(abortError(signal as AbortSignal));
      const request = send(exchange.url, { method: exchange.method, headers, agent: this.agentFor(exchange.url) });
      signal?.addEventListener('abort', onAbort, { once: true });
      let answer: IncomingMessage | undefined;
      request.setTimeout(this.options.idleTimeoutMs, () => {
        const stalled = new SwiftTransportError(`${exchange.method} ${exchange.url.host}: no bytes for ${this.options.idleTimeoutMs} ms`, 'ETIMEDOUT');
        if (answer === undefined) {
          fail(stalled);
          return;
        }
        // A body the reader does not consume (backpressure) is idle by the reader's choice, not the server's.
        if (answer.readableLength < answer.readableHighWaterMark) answer.destroy(stalled);
      });
      request.on('socket', (socket) => {
        if (!socket.connecting) return;
        connectTimer = setTimeout(() => {
          fail(new SwiftTransportError(`cannot connect to ${exchange.url.host} within ${this.options.connectTimeoutMs} ms`, 'ETIMEDOUT'));
        }, this.options.connectTimeoutMs);
        socket.once('connect', () => clearTimeout(connectTimer));
      });
      request.on('error', (error: NodeJS.ErrnoException) => {
        fail(new SwiftTransportError(`${exchange.method} ${exchange.url.host}: ${error.message}`, error.code ?? 'EIO', { cause: error }));
      });
      request.on('response', (response) => {
        clearTimeout(connectTimer);
        if (settled) {
          response.destroy();
          return;
        }
        settled = true;
        answer = response;
        // The signal now belongs to the body: aborting destroys the stream the caller reads.
        signal?.removeEventListener('abort', onAbort);
        if (signal !== undefined) {
          const abortBody = () => response.destroy(abortError(signal));
          signal.addEventListener('abort', abortBody, { once: true });
          response.once('close', () => signal.removeEventListener('abort', abortBody));
        }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: response });
      });
      if (writer === undefined) {
        request.end(fixed);
        return;
      }
      request.once('continue', () => {
        writer(request).catch((error: unknown) => fail(error instanceof Error ? error : new Error(String(error))));
      });
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent?.destroy();
  }
}

/** Reads a (small) response body as text; bounded so that a misbehaving server cannot fill memory. */
export async function readText(body: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const bytes = chunk as Buffer;
    size += bytes.length;
    if (size > limit) {
      body.destroy();
      throw new Error(`response body larger than ${limit} bytes`);
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Consumes and discards a response body so its connection returns to the pool. */
export async function drain(body: IncomingMessage): Promise<void> {
  body.resume();
  if (body.readableEnded) return;
  await new Promise<void>((resolve) => {
    body.once('end', resolve);
    body.once('close', resolve);
    body.once('error', () => resolve());
  });
}

/** The first value of a response header. */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
