import { backendName, type LoadBalancerModel, type ServiceModel } from './model.js';
import type { StatRow } from './haproxy/runtime-api.js';

/** One backend server of a service as HAProxy sees it. */
export interface BackendStatus {
  name: string;
  address: string;
  port: number;
  /** The HAProxy server carrying it (its own name, or a spare slot filled at runtime). */
  server: string;
  /** HAProxy's status column: UP, DOWN, MAINT, DRAIN, "no check", "UP 1/3", ... */
  status: string;
  /** Last health check result (L4OK, L7STS, L4CON, ...), empty without checks. */
  check: string;
  currentSessions: number;
  totalSessions: number;
  up: boolean;
}

export interface ServiceStatus {
  name: string;
  mode: string;
  balance: string;
  backendsUp: number;
  backendsDown: number;
  backends: BackendStatus[];
}

/** Resolves which HAProxy server currently carries a backend of a service. */
export type ServerLocator = (service: ServiceModel, backend: string) => string;

/** True for HAProxy statuses that take new traffic ("UP", "UP 1/3" while failing, "no check"). */
export function isUpStatus(status: string): boolean {
  return /^(UP|no check)/i.test(status.trim());
}

/** Services, backends and health from `show stat` rows, in model order (pure). */
export function serviceStatuses(model: LoadBalancerModel, stats: readonly StatRow[], locate: ServerLocator): ServiceStatus[] {
  const byKey = new Map<string, StatRow>();
  for (const row of stats) byKey.set(`${row.proxy}/${row.name}`, row);
  return model.services.map((service) => {
    const proxy = backendName(service);
    const backends = service.backends.map((b): BackendStatus => {
      const server = locate(service, b.name);
      const row = byKey.get(`${proxy}/${server}`);
      const status = row?.status ?? 'UNKNOWN';
      return {
        name: b.name,
        address: b.address,
        port: b.port,
        server,
        status,
        check: row?.checkStatus ?? '',
        currentSessions: row?.currentSessions ?? 0,
        totalSessions: row?.totalSessions ?? 0,
        up: row !== undefined && isUpStatus(status),
      };
    });
    const up = backends.filter((b) => b.up).length;
    return {
      name: service.name,
      mode: service.mode,
      balance: service.balance,
      backendsUp: up,
      backendsDown: backends.length - up,
      backends,
    };
  });
}
