/**
 * Where a namespace's blobs must be (docs/geo-replication.md), as Quay computes it in its replication worker:
 * DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS plus the namespace's own locations (its UserRegion rows). Pure, so the
 * push hook, the superuser API and the CLI agree.
 */

/** What the configuration says about replication targets. */
export interface ReplicationSettings {
  /** FEATURE_STORAGE_REPLICATION: whether pushes queue copies at all. */
  enabled: boolean;
  /** The names of DISTRIBUTED_STORAGE_CONFIG. */
  configured: readonly string[];
  /** DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: where every blob must be. */
  defaults: readonly string[];
}

/** The settings of a validated config (structural, so this module needs no config import). */
export function replicationSettingsFrom(config: {
  FEATURE_STORAGE_REPLICATION: boolean;
  DISTRIBUTED_STORAGE_CONFIG: Record<string, unknown>;
  DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: readonly string[];
}): ReplicationSettings {
  return {
    enabled: config.FEATURE_STORAGE_REPLICATION,
    configured: Object.keys(config.DISTRIBUTED_STORAGE_CONFIG),
    defaults: config.DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS,
  };
}

/**
 * The locations a blob of the namespace must reach: the default ones, then the namespace's own, once each. A
 * namespace location that is no longer configured is left out (it cannot be copied to).
 */
export function requiredLocations(settings: ReplicationSettings, own: readonly string[]): string[] {
  return [...new Set([...settings.defaults, ...own.filter((name) => settings.configured.includes(name))])];
}

/** Whether a namespace location could add anything: some configured location is not a default one. */
export function namespaceLocationsMatter(settings: ReplicationSettings): boolean {
  return settings.configured.some((name) => !settings.defaults.includes(name));
}

/** Why `location` cannot be added to a namespace, in words; undefined when it can. */
export function addLocationProblem(settings: ReplicationSettings, location: string): string | undefined {
  if (!settings.enabled) return 'FEATURE_STORAGE_REPLICATION is off, so nothing would be copied to a namespace\'s storage locations';
  if (!settings.configured.includes(location)) {
    const listed = settings.configured.length > 0 ? settings.configured.join(', ') : 'none are configured';
    return `storage location ${JSON.stringify(location.slice(0, 100))} is not in DISTRIBUTED_STORAGE_CONFIG (${listed})`;
  }
  return undefined;
}
