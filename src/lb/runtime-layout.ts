/**
 * Which HAProxy server carries which backend while the live worker runs. After a reload every backend sits in
 * the server named after it and the spare slots are empty; between reloads the runtime API fills slots with
 * new backends and puts removed ones in maintenance, and this layout remembers where each backend went.
 */
import { backendName, serverName, spareSlotName, type LoadBalancerModel, type ServiceModel } from './model.js';
import type { BackendChange } from './model-diff.js';
import type { ServerState } from './haproxy/runtime-api.js';

export interface ServiceLayout {
  /** backend name -> HAProxy server name */
  assigned: Map<string, string>;
  /** HAProxy servers in maintenance that may take a new backend. */
  free: string[];
}

export type RuntimeLayout = Map<string, ServiceLayout>;

/** One runtime API call. */
export type RuntimeOp =
  | { op: 'addr'; backend: string; server: string; address: string; port: number }
  | { op: 'state'; backend: string; server: string; state: 'ready' | 'drain' | 'maint' };

/** The layout right after HAProxy loaded the configuration rendered from `model`. */
export function layoutFromModel(model: LoadBalancerModel): RuntimeLayout {
  const layout: RuntimeLayout = new Map();
  for (const service of model.services) {
    layout.set(service.name, {
      assigned: new Map(service.backends.map((b) => [b.name, serverName(service, b)])),
      free: Array.from({ length: service.spareSlots }, (_, i) => spareSlotName(service, i)),
    });
  }
  return layout;
}

function cloneLayout(layout: RuntimeLayout): RuntimeLayout {
  const copy: RuntimeLayout = new Map();
  for (const [name, s] of layout) copy.set(name, { assigned: new Map(s.assigned), free: [...s.free] });
  return copy;
}

/**
 * Plans the runtime API calls for backend changes. Returns the calls and the layout they lead to, or the
 * reason why they cannot be done without a reload (no spare slot left).
 */
export function planBackendChanges(
  layout: RuntimeLayout,
  changes: readonly BackendChange[],
  model: LoadBalancerModel,
): { ok: true; ops: RuntimeOp[]; layout: RuntimeLayout } | { ok: false; reason: string } {
  const next = cloneLayout(layout);
  // Additions into slots that were already free go live BEFORE removals take servers out, so that
  // swapping a service's only backend never leaves it without a server (HAProxy would answer 503).
  // Only additions that reuse a slot freed by this very batch have to wait for the removal.
  const freeBefore = new Set([...next].flatMap(([service, s]) => s.free.map((server) => `${service}/${server}`)));
  const early: RuntimeOp[] = [];
  const removals: RuntimeOp[] = [];
  const late: RuntimeOp[] = [];
  const services = new Map<string, ServiceModel>(model.services.map((s) => [s.name, s]));
  // Removals are booked first: they free servers that additions in the same batch may reuse.
  const ordered = [...changes].sort((a, b) => (a.kind === 'remove' ? 0 : 1) - (b.kind === 'remove' ? 0 : 1));
  for (const change of ordered) {
    const service = services.get(change.service);
    const sl = next.get(change.service);
    if (!service || !sl) return { ok: false, reason: `service ${change.service} is not in the live configuration` };
    const be = backendName(service);
    if (change.kind === 'remove') {
      const server = sl.assigned.get(change.backend.name);
      if (server === undefined) continue;
      // Maintenance stops new traffic while requests in flight finish.
      removals.push({ op: 'state', backend: be, server, state: 'maint' });
      sl.assigned.delete(change.backend.name);
      sl.free.push(server);
    } else if (change.kind === 'readdress') {
      const server = sl.assigned.get(change.backend.name);
      if (server === undefined) return { ok: false, reason: `backend ${change.backend.name} of ${change.service} has no server` };
      early.push({ op: 'addr', backend: be, server, address: change.backend.address, port: change.backend.port });
    } else {
      // Prefer the server that carried this very backend before (same name, same cookie value).
      const own = serverName(service, change.backend);
      const index = sl.free.includes(own) ? sl.free.indexOf(own) : 0;
      const server = sl.free[index];
      if (server === undefined) {
        return { ok: false, reason: `no spare slot left in ${change.service} for backend ${change.backend.name}` };
      }
      sl.free.splice(index, 1);
      sl.assigned.set(change.backend.name, server);
      (freeBefore.has(`${change.service}/${server}`) ? early : late).push(
        { op: 'addr', backend: be, server, address: change.backend.address, port: change.backend.port },
        { op: 'state', backend: be, server, state: 'ready' },
      );
    }
  }
  return { ok: true, ops: [...early, ...removals, ...late], layout: next };
}

/** Looks up the server of a backend; falls back to the backend's own name (the rendered layout). */
export function locateServer(layout: RuntimeLayout, service: ServiceModel, backend: string): string {
  return layout.get(service.name)?.assigned.get(backend) ?? backend;
}

/**
 * Builds the server-state file for the next reload from the live `show servers state` rows: a slot row that
 * carries a backend is renamed to that backend's own server (which is where the new configuration puts it),
 * so health and drain states survive the reload; rows of free servers and of backends that the new model
 * moves or drops are left out, so HAProxy takes their address from the configuration.
 */
export function serverStateFileFor(
  rows: readonly ServerState[],
  layout: RuntimeLayout,
  nextModel: LoadBalancerModel,
): string {
  const header = 'be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port';
  const columns = header.split(' ');
  const lines = ['1', `# ${header}`];
  const byBackend = new Map<string, ServiceModel>(nextModel.services.map((s) => [backendName(s), s]));
  for (const row of rows) {
    const service = byBackend.get(row.backend);
    const sl = service ? layout.get(service.name) : undefined;
    if (!service || !sl) continue;
    const carried = [...sl.assigned].find(([, server]) => server === row.server)?.[0];
    if (carried === undefined) continue;
    const target = service.backends.find((b) => b.name === carried);
    if (!target || target.address !== row.address || target.port !== row.port) continue;
    const fields: Record<string, string> = { ...row.fields, srv_name: serverName(service, target) };
    lines.push(columns.map((c) => fields[c] ?? '-').join(' '));
  }
  return `${lines.join('\n')}\n`;
}
