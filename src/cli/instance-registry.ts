import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { InstanceDirectory } from '../api/superuser.js';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/database.js';
import { KyselyInstanceRegistry, type InstanceRecord } from '../db/instances.js';
import { healthSnapshots, startInstanceHeartbeat, type InstanceHeartbeat } from '../health/instance-heartbeat.js';
import type { HealthReporter } from '../health/routes.js';
import type { ListenerPlan, ServeListeners } from './serve-listeners.js';

/**
 * The instance registry's parts for `quayside serve` (docs/health.md): who this instance is, its heartbeat
 * (run by the primary process only: the single process, or the primary of a worker pool) and the directory
 * the superuser endpoint reads (in every serving process).
 */

/** The workers learn their instance's id from the primary, so each can tell which row is its own. */
export const INSTANCE_ID_ENV = 'QUAYSIDE_INSTANCE_ID';

function packageVersion(): string {
  try {
    // dist/src/cli/ -> the package root.
    const text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The listener addresses as a client would name them; a wildcard address is shown as the host's name. */
export function listenerAddresses(address: string, plan: ListenerPlan, listeners: ServeListeners): string[] {
  const host = address === '' || address === '0.0.0.0' || address === '::' ? hostname() : address.includes(':') ? `[${address}]` : address;
  const out: string[] = [];
  if (listeners.http) out.push(`http://${host}:${listeners.http.port}`);
  if (listeners.https) out.push(`https://${host}:${listeners.https.port}`);
  if (listeners.proxy) out.push(`proxy+${plan.proxyTls ? 'tls' : 'http'}://${host}:${listeners.proxy.port}`);
  return out;
}

/** This instance's identity for this start: a fresh id, so a restart is a new row and the old one ages out. */
export function instanceIdentity(addresses: string[], now: number = Date.now()): Pick<InstanceRecord, 'id' | 'hostname' | 'addresses' | 'version' | 'startedAt'> {
  return { id: randomUUID(), hostname: hostname(), addresses, version: packageVersion(), startedAt: new Date(now) };
}

/** Starts the heartbeat of the primary process; its first beat runs in the background. */
export function startRegistryHeartbeat(
  config: Config,
  parts: { database: Database; reporter: HealthReporter; identity: Pick<InstanceRecord, 'id' | 'hostname' | 'addresses' | 'version' | 'startedAt'>; logger: Logger },
): InstanceHeartbeat {
  return startInstanceHeartbeat({
    registry: new KyselyInstanceRegistry(parts.database),
    identity: parts.identity,
    probe: healthSnapshots(parts.reporter),
    intervalMs: config.INSTANCE_HEARTBEAT_S * 1000,
    purgeAfterMs: config.INSTANCE_PURGE_AFTER_S * 1000,
    log: {
      warn: (details, message) => parts.logger.warn(details, message),
      info: (details, message) => parts.logger.info(details, message),
    },
  });
}

/** What GET /api/v1/superuser/instances reads, in any serving process. */
export function instanceDirectory(config: Config, database: Database, selfId: string | undefined): InstanceDirectory {
  const registry = new KyselyInstanceRegistry(database);
  return { list: () => registry.list(), notSeenAfterMs: config.INSTANCE_NOT_SEEN_AFTER_S * 1000, ...(selfId !== undefined && { selfId }) };
}
