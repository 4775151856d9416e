import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { Metadata } from '../db/metadata.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { PullRecorder } from '../stats/pull-recorder.js';
import type { ManifestLimits } from '../oci/manifest.js';
import type { Grant, RegistryAccess } from './access.js';

/** Limits and feature switches of the /v2 API, mapped from config.yaml by the composition root. */
export interface RegistryOptions {
  /** Largest manifest accepted, in bytes (larger: 413). */
  maxManifestBytes: number;
  /** MAXIMUM_MANIFEST_LAYERS and MAXIMUM_INDEX_MANIFESTS (default: DEFAULT_MANIFEST_LIMITS). */
  manifestLimits?: ManifestLimits;
  /** MAXIMUM_LAYER_SIZE in bytes, or undefined for no limit. */
  maxLayerBytes?: number;
  /** FEATURE_REFERRERS_API. */
  referrersApi: boolean;
  /** FEATURE_PROXY_STORAGE: stream blob bytes through Quayside instead of redirecting to the driver's URL (default false). */
  proxyStorage?: boolean;
  /** Uploads not written for this long are purged (ms). */
  uploadExpiryMs: number;
  /** Garbage collection in this instance (docs/gc.md); none: off. */
  gc?: { intervalMs: number; timeMachineMs: number; graceMs: number };
  /**
   * PUSH_TEMP_TAG_EXPIRATION_SEC in ms (default one hour), also when this instance does not collect: another
   * instance or `quayside gc` may, so a blob HEAD or mount holds the link for half of it (docs/gc.md).
   */
  pushGraceMs?: number;
}

/** The grace period links are held for (see RegistryOptions.pushGraceMs). */
export function pushGraceMsOf(options: RegistryOptions): number {
  return options.pushGraceMs ?? options.gc?.graceMs ?? 3_600_000;
}

/** What every /v2 handler may use; built once in createApp and passed in, never imported as a global. */
export interface RegistryDeps {
  metadata: Metadata;
  blobs: BlobStore;
  options: RegistryOptions;
  /** Who may do what (token auth in production). */
  access: RegistryAccess;
  /** Push, pull and delete events. */
  audit: AuditLog;
  log: FastifyBaseLogger;
  /** Pull statistics (src/stats/): told of every manifest fetched; none: not counted. */
  pulls?: PullRecorder;
  /** Geo-replication (docs/geo-replication.md): hears the blobs a pushed manifest references; none: off. */
  replication?: BlobsReferencedHook;
}

/** Queues the copies a pushed manifest's blobs still need; resolves once they are in the shared queue. */
export interface BlobsReferencedHook {
  /** `namespace`: of the manifest's repository, whose own storage locations the blobs must reach too. */
  blobsReferenced(namespace: string, digests: readonly string[]): Promise<void>;
}

/** One matched /v2 request: the repository name is already validated by the router. */
export interface RouteContext {
  deps: RegistryDeps;
  /** Validated repository name ("" for routes without one, e.g. /v2/ and /v2/_catalog). */
  name: string;
  /** Further path parameters of the route: `digest`, `reference`, `uuid`. */
  params: Record<string, string>;
  /** What the caller was found to be allowed, with its identity and address. */
  grant: Grant;
  request: FastifyRequest;
  reply: FastifyReply;
}

export type RouteHandler = (ctx: RouteContext) => Promise<void>;
