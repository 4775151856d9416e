import type { HealthSnapshot, InstanceRecord } from '../db/instances.js';
import type { HealthReport } from './checks.js';
import type { HealthReporter } from './routes.js';

/**
 * The instance registry's writer (docs/health.md): the primary process of every `quayside serve` records
 * itself in serving_instance and, every INSTANCE_HEARTBEAT_S, writes its latest /health/instance and
 * /health/endtoend results there and deletes the rows of instances gone for INSTANCE_PURGE_AFTER_S.
 *
 * It is never critical: a beat that fails (the database is down, a probe hangs) is logged once, and the next
 * beat simply tries again; nothing waits for it, so neither startup nor a request is ever blocked by it.
 */

/** What the heartbeat writes and purges (KyselyInstanceRegistry). */
export interface InstanceRegistryWriter {
  record(instance: InstanceRecord): Promise<void>;
  purgeSeenBefore(before: Date): Promise<number>;
}

export interface HeartbeatOptions {
  registry: InstanceRegistryWriter;
  identity: Pick<InstanceRecord, 'id' | 'hostname' | 'addresses' | 'version' | 'startedAt'>;
  /** The latest health of this instance (healthSnapshots of the serving process's reporter). */
  probe: () => Promise<NonNullable<InstanceRecord['health']>>;
  intervalMs: number;
  purgeAfterMs: number;
  /** Milliseconds since the epoch; injected by tests. */
  now?: () => number;
  log: { warn(details: object, message: string): void; info(details: object, message: string): void };
  /** False: no timer, beats happen only when beat() is called (tests drive it with their own clock). */
  timer?: boolean;
}

export interface InstanceHeartbeat {
  /** One beat now (or the one in flight); never rejects. */
  beat(): Promise<void>;
  /** Stops the timer and waits for a beat in flight. */
  stop(): Promise<void>;
}

function snapshotOf(report: HealthReport): HealthSnapshot {
  return { status_code: report.healthy ? 200 : 503, services: report.services };
}

/** Both reports of a serving process, as the heartbeat stores them. */
export function healthSnapshots(reporter: HealthReporter): () => Promise<NonNullable<InstanceRecord['health']>> {
  return async () => {
    const [instance, endtoend] = await Promise.all([reporter.instance(), reporter.endtoend()]);
    return { instance: snapshotOf(instance), endtoend: snapshotOf(endtoend) };
  };
}

/** Starts beating at once (the first beat is not awaited) and then every `intervalMs` after the previous one ended. */
export function startInstanceHeartbeat(options: HeartbeatOptions): InstanceHeartbeat {
  const now = options.now ?? Date.now;
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let failing = false;

  const once = async (): Promise<void> => {
    try {
      const health = await options.probe();
      const at = now();
      await options.registry.record({ ...options.identity, lastSeenAt: new Date(at), health });
      const purged = await options.registry.purgeSeenBefore(new Date(at - options.purgeAfterMs));
      if (purged > 0) options.log.info({ purged }, 'instance registry: forgot instances not seen for a long time');
      if (failing) options.log.info({ id: options.identity.id }, 'instance registry: heartbeat written again');
      failing = false;
    } catch (error) {
      // Logged once per outage, not once per beat; the next beat retries.
      if (!failing) {
        const reason = error instanceof Error ? error.message : String(error);
        options.log.warn({ id: options.identity.id, error: reason, retryInMs: options.intervalMs }, 'instance registry: heartbeat failed, will retry');
      }
      failing = true;
    }
  };

  const beat = (): Promise<void> => {
    inFlight ??= once().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const schedule = () => {
    if (stopped || options.timer === false) return;
    timer = setTimeout(() => void beat().then(schedule), options.intervalMs);
    // The heartbeat never keeps a stopping process alive.
    timer.unref();
  };

  if (options.timer !== false) void beat().then(schedule);

  return {
    beat,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
