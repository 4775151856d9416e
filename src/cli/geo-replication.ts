import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/database.js';
import { KyselyBlobIndex } from '../db/blobs.js';
import { KyselyNamespaceLocationStore } from '../db/namespace-locations.js';
import { KyselyPlacementIndex } from '../db/placements.js';
import { KyselyReplicationQueue } from '../db/replication-jobs.js';
import type { HealthCheck } from '../health/checks.js';
import { geoReplicationMetricsIn } from '../metrics/geo-replication-metrics.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import type { BlobsReferencedHook } from '../registry/context.js';
import { DistributedBlobStore, type StorageLocation } from '../storage/distributed.js';
import { namespaceLocationsMatter, replicationSettingsFrom, requiredLocations } from '../storage/required-locations.js';
import { queueMissingCopies, startReplicationWorker, type ReplicationWorker } from '../workers/replication.js';

/**
 * Geo-replication's parts for one serving process (docs/geo-replication.md): the placement-aware store over
 * every location (STORAGE_READ_TIMEOUT_S, STORAGE_BREAKER_*), the hook that queues a pushed manifest's missing
 * copies (FEATURE_STORAGE_REPLICATION, to DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS and the namespace's own
 * locations), the replication worker (unless `--no-replication` or STORAGE_REPLICATION_WORKER: false), and one
 * informational /health/endtoend probe per location.
 */
export interface GeoReplicationParts {
  store: DistributedBlobStore;
  replication: BlobsReferencedHook & { startWorker?: () => ReplicationWorker };
  informationalChecks: Record<string, HealthCheck>;
}

export function geoReplicationParts(
  config: Config,
  parts: { locations: readonly StorageLocation[]; database: Database; logger: Logger; metrics?: MetricsRegistry; workerEnabled: boolean },
): GeoReplicationParts {
  const { locations, database, logger } = parts;
  const placements = new KyselyPlacementIndex(database, Date.now);
  const queue = new KyselyReplicationQueue(database, Date.now);
  const metrics = parts.metrics === undefined ? undefined : geoReplicationMetricsIn(parts.metrics, () => queue.stats());
  const preferred = config.DISTRIBUTED_STORAGE_PREFERENCE.length > 0 ? config.DISTRIBUTED_STORAGE_PREFERENCE : [locations[0]!.name];
  const store = new DistributedBlobStore({
    locations,
    placements,
    log: logger,
    preferred,
    answerTimeoutMs: config.STORAGE_READ_TIMEOUT_S * 1000,
    breaker: { failureThreshold: config.STORAGE_BREAKER_FAILURES, openMs: config.STORAGE_BREAKER_OPEN_S * 1000 },
    ...(metrics && { observer: metrics.store }),
  });
  const settings = replicationSettingsFrom(config);
  const namespaceLocations = new KyselyNamespaceLocationStore(database, Date.now);
  // When every configured location is a default one, a namespace's own locations add nothing: no query.
  const askNamespace = settings.enabled && namespaceLocationsMatter(settings);
  let worker: ReplicationWorker | undefined;
  const replication: GeoReplicationParts['replication'] = {
    async blobsReferenced(namespace, digests) {
      if (!settings.enabled || digests.length === 0) return;
      const required = requiredLocations(settings, askNamespace ? await namespaceLocations.forNamespace(namespace) : []);
      if (required.length === 0) return;
      const queued = await queueMissingCopies(placements, queue, digests, required);
      if (queued > 0) {
        logger.info({ jobs: queued, locations: required, namespace }, 'replication: copies queued for a pushed manifest');
        worker?.wake();
      }
    },
  };
  // One location has nothing to copy to; otherwise the worker also serves jobs that a backfill queued.
  if (parts.workerEnabled && locations.length > 1) {
    replication.startWorker = () => {
      worker = startReplicationWorker({
        locations,
        queue,
        placements,
        blobs: new KyselyBlobIndex(database, Date.now),
        owner: `${hostname()}:${process.pid}`,
        leaseMs: config.STORAGE_REPLICATION_LEASE_S * 1000,
        log: logger,
        ...(metrics && { observer: metrics.worker }),
      });
      return worker;
    };
  }
  const informationalChecks: Record<string, HealthCheck> =
    locations.length > 1 ? Object.fromEntries(locations.map((location) => [`storage:${location.name}`, () => location.store.ping()])) : {};
  return { store, replication, informationalChecks };
}
