import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { BlobStore } from '../blob-store.js';
import type { StorageDriver, StorageDriverContext } from '../driver.js';
import { SwiftAuthenticator } from './auth.js';
import { SwiftClient } from './client.js';
import { HttpTransport } from './http.js';
import { swiftParamsSchema, type SwiftParams } from './params.js';
import { TokenSharing } from './token-sharing.js';
import { DEFAULT_SWIFT_TUNING, SwiftBlobStore, type SwiftStoreTuning } from './store.js';

/** Quay's defaults when connect_timeout / retry_count are absent (python-swiftclient's). */
const DEFAULT_CONNECT_TIMEOUT_S = 10;
const DEFAULT_RETRY_COUNT = 5;
/** No byte either way for this long fails the call (then retried when idempotent). */
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** Knobs that are not Quay parameters: segment size and timeouts, for tests and benchmarks. */
export interface SwiftDriverTuning extends SwiftStoreTuning {
  idleTimeoutMs: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
}

const DEFAULT_DRIVER_TUNING: SwiftDriverTuning = { ...DEFAULT_SWIFT_TUNING, idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS, retryBaseDelayMs: 200, retryMaxDelayMs: 5_000 };

/** A store owning its transport: close() drops its keep-alive connections. */
class OwnedSwiftBlobStore extends SwiftBlobStore {
  constructor(
    client: SwiftClient,
    params: SwiftParams,
    tuning: SwiftDriverTuning,
    now: () => number,
    private readonly transport: HttpTransport,
  ) {
    super(client, params.storage_path, tuning, params.temp_url_key, now);
  }

  override async close(): Promise<void> {
    this.transport.close();
  }
}

/** Builds a SwiftStorage store; no I/O (authentication and ca_cert_path happen on the first call). */
export function createSwiftStore(params: SwiftParams, context: StorageDriverContext, tuning: Partial<SwiftDriverTuning> = {}): BlobStore {
  const knobs = { ...DEFAULT_DRIVER_TUNING, ...tuning };
  const transport = new HttpTransport({
    connectTimeoutMs: (params.connect_timeout ?? DEFAULT_CONNECT_TIMEOUT_S) * 1000,
    idleTimeoutMs: knobs.idleTimeoutMs,
    ca: () => {
      const own = params.ca_cert_path === undefined ? [] : [readFileSync(params.ca_cert_path, 'utf8')];
      if (own.length === 0 && context.extraCa.length === 0) return undefined;
      return [...rootCertificates, ...context.extraCa, ...own];
    },
  });
  const label = `SwiftStorage ${context.location} (container ${params.swift_container})`;
  const sharing = context.sharedTokens === undefined ? undefined : new TokenSharing(params, context.sharedTokens);
  const auth = new SwiftAuthenticator(params, transport, context.now, sharing);
  const client = new SwiftClient(
    transport,
    auth,
    params.swift_container,
    { retries: params.retry_count ?? DEFAULT_RETRY_COUNT, baseDelayMs: knobs.retryBaseDelayMs, maxDelayMs: knobs.retryMaxDelayMs },
    label,
    context.now,
  );
  return new OwnedSwiftBlobStore(client, params, knobs, context.now, transport);
}

/** OpenStack Swift (v1, Keystone v2 and v3 auth), with Quay's driver name and parameters. */
export const swiftStorageDriver: StorageDriver<SwiftParams> = {
  name: 'SwiftStorage',
  params: swiftParamsSchema,
  create: (params, context) => createSwiftStore(params, context),
};
