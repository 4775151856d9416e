import { setTimeout as sleep } from 'node:timers/promises';
import { FAULT_REPORT_INTERVAL_MS, StorageFaultError, type StorageFaultKind } from '../faults.js';
import { SwiftAuthError, SwiftAuthUnavailableError, type SwiftAuthenticator, type SwiftSession } from './auth.js';
import { drain, readText, SwiftTransportError, type BodyWriter, type HttpResponse, type HttpTransport } from './http.js';

/**
 * Authenticated calls to one Swift container: the token is attached, a 401 re-authenticates once, transport
 * failures and 5xx answers of idempotent calls are retried with exponential backoff, and what still fails is
 * a StorageFaultError ('unavailable', 'no-space', 'permission-denied') for the HTTP layer to answer 503/507.
 */

export interface SwiftCall {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** An object name inside the container (already under storage_path); omitted for the container itself. */
  object?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string | BodyWriter;
  /** Safe to send again after a failure: true unless the body is a one-shot stream. */
  idempotent: boolean;
  signal?: AbortSignal;
}

export interface RetryPolicy {
  /** Retries after the first attempt (Quay's retry_count). */
  retries: number;
  /** First backoff delay; doubled each retry, capped at maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export class SwiftClient {
  private readonly lastReported = new Map<string, number>();

  constructor(
    private readonly transport: HttpTransport,
    private readonly auth: SwiftAuthenticator,
    readonly container: string,
    private readonly retry: RetryPolicy,
    /** For fault messages: the driver and where it stores (never sent to clients). */
    private readonly storeLabel: string,
    private readonly now: () => number,
  ) {}

  /** The current session (authenticating when needed); faults classified. */
  async session(): Promise<SwiftSession> {
    try {
      return await this.withRetries(() => this.auth.session(), () => true);
    } catch (error) {
      throw this.classify(error);
    }
  }

  /**
   * Sends the call; resolves with any response that is not a 401, 5xx or 429 (those are retried or become
   * faults). The caller reads or drains the body.
   */
  async call(call: SwiftCall): Promise<HttpResponse> {
    let reauthenticated = false;
    let writerStarted = false;
    const body =
      typeof call.body === 'function'
        ? (() => {
            const writer = call.body;
            return (request: Parameters<BodyWriter>[0]) => {
              writerStarted = true;
              return writer(request);
            };
          })()
        : call.body;
    try {
      return await this.withRetries(async () => {
        for (;;) {
          const session = await this.auth.session();
          const response = await this.transport.send({
            method: call.method,
            url: this.urlOf(session, call.object, call.query),
            headers: { 'x-auth-token': session.token, ...call.headers },
            body,
            signal: call.signal,
          });
          if (response.status === 401 && !reauthenticated && !writerStarted) {
            // Revoked or expired early: authenticate again, once.
            await drain(response.body);
            await this.auth.invalidate(session.token);
            reauthenticated = true;
            continue;
          }
          if (response.status >= 500 || response.status === 429 || response.status === 498) {
            const text = await readText(response.body).catch(() => '');
            throw new SwiftStatusError(response.status, `${call.method} ${call.object ?? this.container}`, text);
          }
          return response;
        }
      }, () => call.idempotent || !writerStarted);
    } catch (error) {
      throw this.classify(error);
    }
  }

  /**
   * The cluster's /info (its limits: slo.max_manifest_segments, ...), undefined when the cluster does not
   * expose it; one try, no auth (it is public when enabled).
   */
  async clusterInfo(): Promise<Record<string, unknown> | undefined> {
    try {
      const session = await this.session();
      const response = await this.transport.send({ method: 'GET', url: new URL('/info', session.storageUrl) });
      const text = await readText(response.body);
      return response.status === 200 ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The account URL's path plus container and object, percent-encoded per segment. */
  objectPath(session: SwiftSession, object?: string): string {
    const base = new URL(session.storageUrl).pathname.replace(/\/+$/, '');
    const parts = [this.container, ...(object === undefined ? [] : object.split('/'))];
    return `${base}/${parts.map(encodeURIComponent).join('/')}`;
  }

  private urlOf(session: SwiftSession, object: string | undefined, query: Record<string, string> | undefined): URL {
    const url = new URL(session.storageUrl);
    url.pathname = this.objectPath(session, object);
    for (const [key, value] of Object.entries(query ?? {})) url.searchParams.set(key, value);
    return url;
  }

  /** Runs `attempt`, retrying transport failures and retryable statuses while `mayRetry()` holds. */
  private async withRetries<T>(attempt: () => Promise<T>, mayRetry: () => boolean): Promise<T> {
    for (let retry = 0; ; retry += 1) {
      try {
        return await attempt();
      } catch (error) {
        const retryable = error instanceof SwiftTransportError || error instanceof SwiftStatusError || error instanceof SwiftAuthUnavailableError;
        if (!retryable || retry >= this.retry.retries || !mayRetry()) throw error;
        const delay = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** retry);
        // Jitter spreads the retries of many instances hitting the same outage.
        await sleep(delay / 2 + Math.random() * (delay / 2));
      }
    }
  }

  /** Backend failures as StorageFaultErrors; everything else (aborts, body errors) unchanged. */
  classify(error: unknown): unknown {
    if (error instanceof StorageFaultError) return error;
    if (error instanceof SwiftTransportError) return this.fault('unavailable', error.code, error);
    if (error instanceof SwiftAuthUnavailableError) return this.fault('unavailable', `auth-${error.status}`, error);
    if (error instanceof SwiftAuthError) return this.fault('permission-denied', `auth-${error.status}`, error);
    if (error instanceof SwiftStatusError) return this.fault(error.status === 507 ? 'no-space' : 'unavailable', `http-${error.status}`, error);
    return error;
  }

  /** A fault for a status the caller did not expect (403 on our own container, 507, ...). */
  statusFault(status: number, what: string, text: string): unknown {
    const error = new SwiftStatusError(status, what, text);
    if (status === 401 || status === 403) return this.fault('permission-denied', `http-${status}`, error);
    if (status === 507 || status === 413) return this.fault('no-space', `http-${status}`, error);
    if (status >= 500) return this.fault('unavailable', `http-${status}`, error);
    return error;
  }

  private fault(kind: StorageFaultKind, code: string, cause: Error): StorageFaultError {
    const now = this.now();
    const last = this.lastReported.get(code);
    const report = last === undefined || now - last >= FAULT_REPORT_INTERVAL_MS;
    if (report) this.lastReported.set(code, now);
    return new StorageFaultError(kind, code, `${this.storeLabel}: ${cause.message}`, report, { cause });
  }
}

/** Swift answered a status the operation cannot go on with. */
export class SwiftStatusError extends Error {
  constructor(
    readonly status: number,
    what: string,
    text: string,
  ) {
    super(`${what} answered ${status}${text === '' ? '' : `: ${text.replace(/\s+/g, ' ').slice(0, 200)}`}`);
    this.name = 'SwiftStatusError';
  }
}
