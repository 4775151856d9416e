/**
 * The etcd v3 source. Key layout under a prefix (default `/quayside/lb/`); every value is JSON or YAML:
 *
 *   <prefix>lb                             the balancer settings (the `load_balancer:` mapping of the YAML format)
 *   <prefix>services/<name>                one service (the `services.<name>:` mapping of the YAML format)
 *   <prefix>services/<name>/backends/<id>  one backend instance: "address[:port]" or { address, port?, name? };
 *                                          its server name defaults to <id>
 *
 * Backends get their own keys so that an orchestrator can register and remove instances one by one (with a
 * lease, they vanish when the instance dies). A backend whose service key does not exist (yet) is ignored:
 * instances may register before their service is declared. Any other key under the prefix is an error.
 *
 * The state is loaded with one range read, then kept current by a watch starting at the next revision
 * (no polling). When the watch fails or reconnects, the whole prefix is read again, so nothing is missed even
 * if the revision the watch wanted was compacted away.
 */
import type { Etcd3, Watcher } from 'etcd3';
import { parse as parseYaml } from 'yaml';
import { parseLoadBalancerEntry, parseServiceEntry, type SourceDocument, type SourceUpdate } from '../document.js';
import { LbConfigError, type LbIssue } from '../errors.js';
import { backendInputSchema, parseWith } from '../schema.js';
import { buildModel } from '../validate.js';
import { readCertificateFiles } from './certificate-files.js';

export const ETCD_DEFAULT_PREFIX = '/quayside/lb/';

const SERVICE_KEY = /^services\/([^/]+)$/;
const BACKEND_KEY = /^services\/([^/]+)\/backends\/([^/]+)$/;

function parseValue(key: string, value: string, issues: LbIssue[]): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: parseYaml(value) as unknown };
  } catch (error) {
    issues.push({ origin: key, path: '', message: `not JSON or YAML: ${(error as Error).message.split('\n')[0] ?? ''}` });
    return { ok: false };
  }
}

/**
 * Build a source document from the key/value pairs under `prefix` (no I/O but reading certificates given by
 * absolute path); throws LbConfigError.
 */
export function documentFromEtcd(entries: ReadonlyMap<string, string>, prefix: string): SourceDocument {
  const issues: LbIssue[] = [];
  const origin = `etcd:${prefix}`;
  const files: string[] = [];
  let loadBalancer: SourceDocument['loadBalancer'] = null;
  const services = new Map<string, { key: string; raw: unknown }>();
  const backends = new Map<string, Array<{ key: string; id: string; raw: unknown }>>();
  for (const key of [...entries.keys()].sort()) {
    const value = entries.get(key) ?? '';
    if (!key.startsWith(prefix)) continue;
    const relative = key.slice(prefix.length);
    const parsed = parseValue(key, value, issues);
    if (!parsed.ok) continue;
    let match: RegExpExecArray | null;
    if (relative === 'lb') {
      files.push(...readCertificateFiles(parsed.value, key, 'load_balancer', null, issues));
      loadBalancer = parseLoadBalancerEntry(parsed.value, key, { prefix: 'load_balancer' }, issues);
    } else if ((match = SERVICE_KEY.exec(relative)) !== null) {
      services.set(match[1] ?? '', { key, raw: parsed.value });
    } else if ((match = BACKEND_KEY.exec(relative)) !== null) {
      const name = match[1] ?? '';
      const id = match[2] ?? '';
      const checked = parseWith(backendInputSchema, parsed.value, key, { prefix: `services.${name}.backends.${id}` });
      if (!checked.ok) issues.push(...checked.issues);
      else backends.set(name, [...(backends.get(name) ?? []), { key, id, raw: checked.value }]);
    } else {
      issues.push({ origin: key, path: '', message: `unknown key (expected ${prefix}lb, ${prefix}services/<name> or ${prefix}services/<name>/backends/<id>)` });
    }
  }
  const entriesOut: SourceDocument['services'] = [];
  for (const [name, { key, raw }] of services) {
    let input = raw;
    const registered = backends.get(name) ?? [];
    if (registered.length > 0 && typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
      const inline = (raw as Record<string, unknown>).backends;
      const extra = registered.map(({ id, raw: backend }) =>
        typeof backend === 'string' ? { name: id, ...splitHostPort(backend) } : { name: id, ...(backend as object) },
      );
      input = { ...raw, backends: [...(Array.isArray(inline) ? inline : []), ...extra] };
    }
    const entry = parseServiceEntry(input, name, key, { prefix: `services.${name}` }, issues);
    if (entry !== null) entriesOut.push(entry);
  }
  if (issues.length > 0) throw new LbConfigError(issues, files);
  return { origin, loadBalancer, services: entriesOut, files };
}

/** `host`, `host:port`, `[v6]:port` -> { address, port? } for a backend given as a string under its own key. */
function splitHostPort(text: string): { address: string; port?: number } {
  const value = text.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed !== null) return bracketed[2] === undefined ? { address: bracketed[1] ?? '' } : { address: bracketed[1] ?? '', port: Number(bracketed[2]) };
  const hostPort = /^([^:]+):(\d+)$/.exec(value);
  if (hostPort !== null) return { address: hostPort[1] ?? '', port: Number(hostPort[2]) };
  return { address: value };
}

/** Read every key under `prefix` in one range request; returns the pairs and the revision they were read at. */
export async function readEtcdPrefix(client: Etcd3, prefix: string): Promise<{ entries: Map<string, string>; revision: string }> {
  const response = await client.getAll().prefix(prefix).exec();
  const entries = new Map<string, string>();
  for (const kv of response.kvs) entries.set(kv.key.toString('utf8'), kv.value.toString('utf8'));
  return { entries, revision: response.header.revision };
}

/** Load and parse the etcd source once; throws LbConfigError (bad content) or the client's error. */
export async function loadEtcd(client: Etcd3, prefix: string = ETCD_DEFAULT_PREFIX): Promise<SourceDocument> {
  const { entries } = await readEtcdPrefix(client, prefix);
  return documentFromEtcd(entries, prefix);
}

function toUpdate(entries: ReadonlyMap<string, string>, prefix: string): SourceUpdate {
  try {
    const document = documentFromEtcd(entries, prefix);
    return { ok: true, document, model: buildModel(document) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
  }
}

export interface EtcdWatchOptions {
  /** Events closer together than this are reported as one update (an orchestrator registers in bursts). */
  debounceMs?: number;
  /** Delay before retrying a failed re-sync. */
  retryMs?: number;
}

/** A running etcd watch; `close()` cancels it (the client stays open: the caller owns it). */
export interface EtcdWatch {
  close(): Promise<void>;
}

/**
 * Watch `prefix`: `onChange` gets the initial state (before this resolves), then an update after each burst of
 * changes. Rejects when the initial read fails; later failures are reported and retried.
 */
export async function watchEtcd(
  client: Etcd3,
  prefix: string,
  onChange: (update: SourceUpdate) => void,
  options: EtcdWatchOptions = {},
): Promise<EtcdWatch> {
  const debounceMs = options.debounceMs ?? 50;
  const retryMs = options.retryMs ?? 1_000;
  let entries = new Map<string, string>();
  let watcher: Watcher | null = null;
  let timer: NodeJS.Timeout | null = null;
  let retry: NodeJS.Timeout | null = null;
  let closed = false;
  let resyncing: Promise<void> | null = null;

  const emit = () => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      if (!closed) onChange(toUpdate(entries, prefix));
    }, debounceMs);
  };

  const startWatcher = async (revision: string) => {
    const next = (BigInt(revision) + 1n).toString();
    const created = await client.watch().prefix(prefix).startRevision(next).create();
    if (closed) {
      await created.cancel();
      return;
    }
    let disconnected = false;
    created.on('put', (kv) => {
      entries.set(kv.key.toString('utf8'), kv.value.toString('utf8'));
      emit();
    });
    created.on('delete', (kv) => {
      entries.delete(kv.key.toString('utf8'));
      emit();
    });
    created.on('disconnected', () => {
      disconnected = true;
    });
    created.on('connected', () => {
      // The client resumes from its last revision, but a full read also covers a compacted history.
      if (disconnected) {
        disconnected = false;
        void resync();
      }
    });
    created.on('error', (error: Error) => {
      if (closed) return;
      onChange({ ok: false, error: new Error(`etcd watch on ${prefix} failed: ${error.message}`) });
      void resync();
    });
    watcher = created;
  };

  /** Read the whole prefix again and restart the watch after it; retried until it works or the watch closes. */
  const resync = (): Promise<void> => {
    if (resyncing !== null) return resyncing;
    resyncing = (async () => {
      try {
        const previous = watcher;
        watcher = null;
        if (previous !== null) await previous.cancel().catch(() => undefined);
        const read = await readEtcdPrefix(client, prefix);
        entries = read.entries;
        emit();
        await startWatcher(read.revision);
      } catch (error) {
        if (!closed) {
          onChange({ ok: false, error: new Error(`etcd re-sync of ${prefix} failed: ${(error as Error).message}`) });
          retry = setTimeout(() => {
            retry = null;
            void resync();
          }, retryMs);
        }
      } finally {
        resyncing = null;
      }
    })();
    return resyncing;
  };

  const initial = await readEtcdPrefix(client, prefix);
  entries = initial.entries;
  onChange(toUpdate(entries, prefix));
  await startWatcher(initial.revision);
  return {
    async close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      if (retry !== null) clearTimeout(retry);
      await resyncing?.catch(() => undefined);
      const current = watcher;
      watcher = null;
      if (current !== null) await current.cancel();
    },
  };
}
