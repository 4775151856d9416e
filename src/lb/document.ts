/**
 * A source document: what one source (a YAML file, a kontena.yml, an etcd prefix) declares, each part
 * already shape-checked by the zod schemas and remembering where it came from. Documents from several
 * sources are merged (sources/merge.ts) and then cross-checked into the model (validate.ts).
 */
import { LbConfigError, type LbIssue } from './errors.js';
import type { LoadBalancerModel } from './model.js';
import {
  loadBalancerInputSchema,
  parseWith,
  serviceInputSchema,
  type KeyNaming,
  type LoadBalancerInput,
  type ServiceInput,
} from './schema.js';

export interface ServiceEntry {
  name: string;
  /** File path or etcd key. */
  origin: string;
  /** How this service's keys are shown in messages (`services.web`, or Kontena environment names). */
  naming: KeyNaming;
  input: ServiceInput;
}

export interface LoadBalancerEntry {
  origin: string;
  naming: KeyNaming;
  input: LoadBalancerInput;
}

export interface SourceDocument {
  /** The source as a whole (file path, `etcd:<endpoint><prefix>`). */
  origin: string;
  loadBalancer: LoadBalancerEntry | null;
  services: ServiceEntry[];
  /** Certificate files the document was read from (absolute paths): watched so that a renewal applies. */
  files?: readonly string[];
}

/** What a watching source reports: a new valid document (with its model), or why the source is unusable. */
export type SourceUpdate =
  | { ok: true; document: SourceDocument; model: LoadBalancerModel }
  | { ok: false; error: Error };

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Shape-check one service; `issues` receives what is wrong, the entry is returned only when it is usable. */
export function parseServiceEntry(
  raw: unknown,
  name: string,
  origin: string,
  naming: KeyNaming,
  issues: LbIssue[],
): ServiceEntry | null {
  if (!SERVICE_NAME.test(name)) {
    issues.push({ origin, path: naming.prefix, message: 'service name must match [A-Za-z0-9][A-Za-z0-9_.-]* (at most 63 characters)' });
    return null;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    issues.push({ origin, path: naming.prefix, message: 'must be a mapping of service settings' });
    return null;
  }
  const parsed = parseWith(serviceInputSchema, raw, origin, naming);
  if (!parsed.ok) {
    issues.push(...parsed.issues);
    return null;
  }
  return { name, origin, naming, input: parsed.value };
}

/** Shape-check the balancer settings (`null`/absent means all defaults). */
export function parseLoadBalancerEntry(
  raw: unknown,
  origin: string,
  naming: KeyNaming,
  issues: LbIssue[],
): LoadBalancerEntry | null {
  const value = raw ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    issues.push({ origin, path: naming.prefix, message: 'must be a mapping of load balancer settings' });
    return null;
  }
  const parsed = parseWith(loadBalancerInputSchema, value, origin, naming);
  if (!parsed.ok) {
    issues.push(...parsed.issues);
    return null;
  }
  return { origin, naming, input: parsed.value };
}

/**
 * Parse Quayside's own format: `{ load_balancer: {...}, services: { <name>: {...} } }` (snake_case keys).
 * Throws LbConfigError listing every issue.
 */
export function parseQuaysideDocument(raw: unknown, origin: string): SourceDocument {
  const issues: LbIssue[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new LbConfigError([{ origin, path: '', message: 'must be a mapping with load_balancer and services' }]);
  }
  const top = raw as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (key !== 'load_balancer' && key !== 'services') issues.push({ origin, path: key, message: 'unknown key' });
  }
  const loadBalancer =
    'load_balancer' in top ? parseLoadBalancerEntry(top.load_balancer, origin, { prefix: 'load_balancer' }, issues) : null;
  const services: ServiceEntry[] = [];
  const rawServices = top.services ?? {};
  if (typeof rawServices !== 'object' || rawServices === null || Array.isArray(rawServices)) {
    issues.push({ origin, path: 'services', message: 'must be a mapping of service name to settings' });
  } else {
    for (const [name, value] of Object.entries(rawServices)) {
      const entry = parseServiceEntry(value, name, origin, { prefix: `services.${name}` }, issues);
      if (entry !== null) services.push(entry);
    }
  }
  if (issues.length > 0) throw new LbConfigError(issues);
  return { origin, loadBalancer, services };
}
