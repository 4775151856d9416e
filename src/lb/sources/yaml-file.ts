/**
 * The YAML file source: Quayside's own format (`load_balancer:` + `services:`) or a kontena.yml (services with
 * `environment:`, the balancer recognised by image kontena/lb). Watched through its directory, because editors
 * and config-management tools replace a file (write a temporary one, rename it) rather than write into it.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { parseDocument as parseYamlText } from 'yaml';
import { parseQuaysideDocument, type SourceDocument, type SourceUpdate } from '../document.js';
import { LbConfigError, type LbIssue } from '../errors.js';
import { buildModel } from '../validate.js';
import { readCertificateFiles } from './certificate-files.js';
import { parseKontenaDocument } from './kontena-env.js';

export interface YamlSourceOptions {
  /** kontena.yml: the balancer service to use when the file declares several. */
  lbName?: string;
}

/** A kontena.yml has services defined the Kontena way (image/environment/links) and no `load_balancer` key. */
function looksLikeKontena(top: Record<string, unknown>): boolean {
  if ('load_balancer' in top) return false;
  const services = top.services;
  if (typeof services !== 'object' || services === null || Array.isArray(services)) return false;
  return Object.values(services).some(
    (s) => typeof s === 'object' && s !== null && ('image' in s || 'environment' in s || 'links' in s),
  );
}

/** Parse YAML text read from `origin` (either format) into a source document; throws LbConfigError. */
export function parseYamlSource(text: string, origin: string, options: YamlSourceOptions = {}): SourceDocument {
  const parsed = parseYamlText(text, { prettyErrors: true, uniqueKeys: true });
  if (parsed.errors.length > 0) {
    throw new LbConfigError(parsed.errors.map((e) => ({ origin, path: '', message: `YAML: ${e.message.split('\n')[0] ?? ''}` })));
  }
  const raw: unknown = parsed.toJS();
  if (raw === null || raw === undefined) return { origin, loadBalancer: null, services: [] };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new LbConfigError([{ origin, path: '', message: 'must be a mapping (load_balancer/services, or a kontena.yml)' }]);
  }
  const top = raw as Record<string, unknown>;
  if (looksLikeKontena(top)) return parseKontenaDocument(top, origin, options.lbName);
  const issues: LbIssue[] = [];
  const files = readCertificateFiles(top.load_balancer, origin, 'load_balancer', dirname(resolve(origin)), issues);
  if (issues.length > 0) throw new LbConfigError(issues, files);
  try {
    return { ...parseQuaysideDocument(top, origin), files };
  } catch (error) {
    throw error instanceof LbConfigError ? new LbConfigError(error.issues, files) : error;
  }
}

/** Read and parse a YAML source file. */
export async function loadYamlFile(path: string, options: YamlSourceOptions = {}): Promise<SourceDocument> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new LbConfigError([{ origin: path, path: '', message: `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` }]);
  }
  return parseYamlSource(text, path, options);
}

/** Read, parse and validate a YAML file into an update (never throws). */
export async function readYamlUpdate(path: string, options: YamlSourceOptions = {}): Promise<SourceUpdate> {
  try {
    const document = await loadYamlFile(path, options);
    return { ok: true, document, model: buildModel(document) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
  }
}

export interface YamlWatchOptions extends YamlSourceOptions {
  /** Quiet period after the last file event before re-reading (editors write in several steps). */
  debounceMs?: number;
  /**
   * Called once per settled change after the file was read: `changed` when an update was reported, `unchanged`
   * when its bytes were the last ones reported (nothing sent). Lets a caller wait for a change to be examined.
   */
  onExamined?: (outcome: 'changed' | 'unchanged') => void;
}

/** A running watch; `close()` stops it. */
export interface FileWatch {
  close(): void;
}

/**
 * Watch a YAML file: `onChange` gets the initial state, then one update per settled change whose content
 * differs from the last one reported. A broken file reports its error; the caller keeps its last good model.
 */
export function watchYamlFile(path: string, onChange: (update: SourceUpdate) => void, options: YamlWatchOptions = {}): FileWatch {
  const debounceMs = options.debounceMs ?? 100;
  const name = basename(path);
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  let lastText: string | null = null;
  let running = Promise.resolve();

  const check = async () => {
    let text: string | null;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      text = null;
    }
    // The same bytes (a touch, a rename of identical content) produce no update.
    if (closed) return;
    if (text !== null && text === lastText) {
      options.onExamined?.('unchanged');
      return;
    }
    lastText = text;
    const update = await readYamlUpdate(path, options);
    if (closed) return;
    onChange(update);
    options.onExamined?.('changed');
  };
  const schedule = () => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      running = running.then(check);
    }, debounceMs);
  };

  const watcher: FSWatcher = watch(dirname(path), (_event, file) => {
    if (file === null || file === name) schedule();
  });
  watcher.on('error', (error) => {
    if (!closed) onChange({ ok: false, error });
  });
  running = running.then(check);
  return {
    close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      watcher.close();
    },
  };
}
