import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { isQuayKeyNotYetUsed, QUAY_KEYS_NOT_YET_USED } from './quay-keys.js';
import { describeIssue, describeValue } from './issues.js';
import { closestKey } from './suggest.js';
import { CONFIG_KEYS, configSchema, type Config } from './schema.js';

/** A validated configuration and what the operator should hear about it (one line each). */
export interface LoadedConfig {
  config: Config;
  warnings: string[];
}

/** A configuration that cannot be used; the message is one line naming the file, the key and the problem. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Quay reads this variable to pick the preferred storage per deployment (e.g. per region) from one shared file. */
const PREFERENCE_ENV = 'QUAY_DISTRIBUTED_STORAGE_PREFERENCE';

/** Aliases expanded beyond this count mean a "billion laughs" file, not a configuration. */
const MAX_ALIAS_COUNT = 100;

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? '').replace(/:\s*$/, '').trim();
}

function formatPath(segments: readonly PropertyKey[], preferenceFromEnv: boolean): string {
  let out = '';
  for (const segment of segments) {
    out += typeof segment === 'number' ? `[${segment}]` : `${out === '' ? '' : '.'}${String(segment)}`;
  }
  if (preferenceFromEnv && segments[0] === 'DISTRIBUTED_STORAGE_PREFERENCE') out += ` (from ${PREFERENCE_ENV})`;
  return out === '' ? '(top level)' : out;
}

/** Path of the first `__proto__` key anywhere in the document: such a key would be dropped or pollute objects. */
function findProtoKey(value: unknown, at: PropertyKey[] = []): PropertyKey[] | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const entries: [PropertyKey, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  for (const [key, child] of entries) {
    if (key === '__proto__') return [...at, key];
    const found = findProtoKey(child, [...at, key]);
    if (found) return found;
  }
  return undefined;
}

/** Splits QUAY_DISTRIBUTED_STORAGE_PREFERENCE as Quay does (whitespace; commas accepted too). */
function preferenceFromEnv(env: NodeJS.ProcessEnv): string[] | undefined {
  const value = env[PREFERENCE_ENV];
  if (value === undefined || value.trim() === '') return undefined;
  return value.split(/[\s,]+/).filter((name) => name !== '');
}

/** The mapping key written at `offset` (the start of a duplicate key), if it is a plain one. */
function keyAt(text: string, offset: number): string | undefined {
  const match = /^["']?([^"':\n]+?)["']?\s*:/.exec(text.slice(offset, offset + 200));
  return match?.[1];
}

/** Parse YAML text (a file's contents) into a validated config; env overrides applied. */
export function parseConfig(yamlText: string, source: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  // YAML 1.1 is what PyYAML, and so Quay, reads: `yes`/`no`/`on`/`off` are booleans, `<<` merges.
  const doc = parseDocument(yamlText, { version: '1.1', uniqueKeys: true, prettyErrors: true });
  const syntaxError = doc.errors[0];
  if (syntaxError) {
    // The parser's message gives the line; the key itself is what a reader looks for.
    const key = syntaxError.code === 'DUPLICATE_KEY' ? keyAt(yamlText, syntaxError.pos[0]) : undefined;
    const what = key === undefined ? firstLine(syntaxError.message) : `${key} is given twice (${firstLine(syntaxError.message)})`;
    throw new ConfigError(`${source}: invalid YAML: ${what}`);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    throw new ConfigError(`${source}: invalid YAML: ${firstLine(error instanceof Error ? error.message : String(error))}`);
  }
  if (raw === null || raw === undefined) {
    throw new ConfigError(`${source}: the file is empty (expected a mapping of Quay configuration keys)`);
  }
  if (typeof raw !== 'object' || Array.isArray(raw) || raw instanceof Date) {
    throw new ConfigError(`${source}: the top level must be a mapping of Quay configuration keys, got ${describeValue(raw)}`);
  }
  const protoKey = findProtoKey(raw);
  if (protoKey) throw new ConfigError(`${source}: ${formatPath(protoKey, false)}: the key __proto__ is not allowed`);
  const input: Record<string, unknown> = { ...(raw as Record<string, unknown>) };

  // A misspelt key is refused, not ignored: DB_URl would quietly start an instance on its own SQLite file.
  const warnings: string[] = [];
  const unknown: string[] = [];
  for (const key of Object.keys(input)) {
    if (CONFIG_KEYS.has(key)) continue;
    if (isQuayKeyNotYetUsed(key)) warnings.push(`${key} is a Quay key Quayside does not use yet`);
    else unknown.push(key);
  }
  if (unknown.length > 0) {
    const known = [...CONFIG_KEYS, ...QUAY_KEYS_NOT_YET_USED];
    const problems = unknown.map((key) => {
      const near = closestKey(key, known);
      return `unknown key ${key}${near === undefined ? '' : ` (did you mean ${near}?)`}`;
    });
    throw new ConfigError(`${source}: ${problems.join('; ')}`);
  }

  const preference = preferenceFromEnv(env);
  if (preference) input.DISTRIBUTED_STORAGE_PREFERENCE = preference;

  const result = configSchema.safeParse(input, { reportInput: true });
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${formatPath(issue.path, preference !== undefined)}: ${describeIssue(issue)}`,
    );
    throw new ConfigError(`${source}: ${problems.join('; ')}`);
  }
  return { config: result.data, warnings };
}

/** Read and parse a config.yaml; ConfigError when it cannot be read or is not valid. */
export async function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : firstLine(String(error));
    throw new ConfigError(`${file}: cannot read the configuration: ${reason}`);
  }
  return parseConfig(text, file, env);
}

/** The embedded default: SQLite at <dataDir>/quayside.db and LocalStorage at <dataDir>/storage, location name 'local'. */
export function defaultConfig(dataDir: string): Config {
  const dir = path.resolve(dataDir);
  return configSchema.parse({
    // SQLAlchemy's spelling, as in Quay: sqlite:/// followed by the path, so an absolute path gives four slashes.
    DB_URI: `sqlite:///${path.join(dir, 'quayside.db')}`,
    DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: path.join(dir, 'storage') }] },
    DISTRIBUTED_STORAGE_PREFERENCE: ['local'],
    DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [],
  });
}
