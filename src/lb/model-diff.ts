import { isIP } from 'node:net';
import type { BackendServer, Certificate, LoadBalancerModel, ServiceModel } from './model.js';

/** A backend-level change that the runtime API can apply without a reload. */
export type BackendChange =
  | { kind: 'add'; service: string; backend: BackendServer }
  | { kind: 'remove'; service: string; backend: BackendServer }
  | { kind: 'readdress'; service: string; backend: BackendServer; previous: BackendServer };

/** What separates two models, sorted by how it can be applied. */
export interface ModelDiff {
  /** Why a reload is needed; empty when runtime changes suffice. */
  structural: string[];
  backendChanges: BackendChange[];
  /** Certificates whose PEM changed (same name, same file): `set ssl cert` + `commit ssl cert`. */
  certificateChanges: Certificate[];
}

/** JSON with sorted keys, so that two equal models compare equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

/** A service without what can change at runtime (its backends; `origin` is only provenance). */
function serviceShape(service: ServiceModel): string {
  const { backends: _backends, origin: _origin, ...rest } = service;
  return canonicalJson(rest);
}

/**
 * Compares the live model with a candidate. Anything beyond backend churn and certificate content is
 * structural and needs a reload; so does a backend given by host name, which HAProxy resolves only when it
 * loads its configuration (the runtime API takes IP addresses).
 */
export function diffModels(previous: LoadBalancerModel, next: LoadBalancerModel): ModelDiff {
  const structural: string[] = [];
  const backendChanges: BackendChange[] = [];
  const certificateChanges: Certificate[] = [];

  const { certificates: prevCerts, ...prevLb } = previous.loadBalancer;
  const { certificates: nextCerts, ...nextLb } = next.loadBalancer;
  if (canonicalJson(prevLb) !== canonicalJson(nextLb)) structural.push('load balancer settings changed');
  if (canonicalJson(prevCerts.map((c) => c.name)) !== canonicalJson(nextCerts.map((c) => c.name))) {
    structural.push('certificate list changed');
  } else {
    nextCerts.forEach((cert, i) => {
      if (prevCerts[i]?.pem !== cert.pem) certificateChanges.push(cert);
    });
  }

  const prevServices = new Map(previous.services.map((s) => [s.name, s]));
  const nextServices = new Map(next.services.map((s) => [s.name, s]));
  for (const name of prevServices.keys()) {
    if (!nextServices.has(name)) structural.push(`service ${name} removed`);
  }
  for (const [name, svc] of nextServices) {
    const old = prevServices.get(name);
    if (!old) {
      structural.push(`service ${name} added`);
      continue;
    }
    if (serviceShape(old) !== serviceShape(svc)) {
      structural.push(`service ${name} settings changed`);
      continue;
    }
    const oldBackends = new Map(old.backends.map((b) => [b.name, b]));
    const newBackends = new Map(svc.backends.map((b) => [b.name, b]));
    for (const [bname, b] of oldBackends) {
      if (!newBackends.has(bname)) backendChanges.push({ kind: 'remove', service: name, backend: b });
    }
    for (const [bname, b] of newBackends) {
      const prev = oldBackends.get(bname);
      if (!prev) backendChanges.push({ kind: 'add', service: name, backend: b });
      else if (prev.address !== b.address || prev.port !== b.port) {
        backendChanges.push({ kind: 'readdress', service: name, backend: b, previous: prev });
      }
    }
  }
  for (const change of backendChanges) {
    if (change.kind !== 'remove' && isIP(change.backend.address) === 0) {
      structural.push(`backend ${change.backend.name} of ${change.service} is a host name (resolved when HAProxy loads)`);
    }
  }
  return { structural, backendChanges, certificateChanges };
}

/** One line describing runtime changes, for logs. */
export function describeBackendChanges(changes: readonly BackendChange[]): string {
  return changes
    .map((c) => {
      const addr = `${c.backend.address}:${c.backend.port}`;
      if (c.kind === 'readdress') return `${c.service}/${c.backend.name} ${c.previous.address}:${c.previous.port} -> ${addr}`;
      return `${c.kind === 'add' ? '+' : '-'}${c.service}/${c.backend.name} ${addr}`;
    })
    .join(', ');
}
