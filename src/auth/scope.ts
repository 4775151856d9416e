import { repositoryNameProblem } from '../oci/names.js';
import type { AccessEntry, RepositoryAction } from './identity.js';

/**
 * The `scope` parameter of docker's token protocol: `type[(class)]:name:action[,action...]`, e.g.
 * `repository:acme/app:pull,push` or `registry:catalog:*`. A request may repeat the parameter and may put
 * several scopes in one, separated by spaces.
 *
 * The type runs to the first ':' and the actions follow the last one, so the name is what lies between;
 * a name containing ':' (docker's grammar allows a host:port prefix, which no client sends to a registry's
 * own token endpoint) is refused rather than guessed at.
 */

/** Longest single scope accepted. */
export const MAX_SCOPE_LENGTH = 1024;
/** Most scopes accepted in one request (docker asks for one or two, a cross-repository mount for two). */
export const MAX_SCOPES = 100;

/** Every action a token can carry; anything else a client asks for is dropped. */
const KNOWN_ACTIONS: readonly RepositoryAction[] = ['pull', 'push', 'delete', '*'];

// Docker's grammar: resourcetype is [a-z0-9]+, the optional class [a-zA-Z0-9]+ in parentheses.
const TYPE_RE = /^([a-z0-9]+)(?:\(([a-zA-Z0-9]+)\))?$/;
// C0 controls, DEL and C1 controls (tabs and newlines included: scopes are separated by plain spaces).
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

/** A scope the client sent that cannot be understood; `message` is safe to show. */
export class ScopeError extends Error {
  constructor(
    readonly scope: string,
    message: string,
  ) {
    super(message);
    this.name = 'ScopeError';
  }
}

function quote(scope: string): string {
  return JSON.stringify(scope.length > 100 ? `${scope.slice(0, 100)}...` : scope);
}

/** Parses one scope; the entry's actions are the known ones requested (possibly none). Throws ScopeError. */
export function parseScope(scope: string): AccessEntry {
  function fail(why: string): never {
    throw new ScopeError(scope, `invalid scope ${quote(scope)}: ${why}`);
  }
  if (scope.length > MAX_SCOPE_LENGTH) fail(`longer than ${MAX_SCOPE_LENGTH} characters`);
  if (CONTROL_RE.test(scope)) fail('contains a control character');
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || first === last) fail('expected type:name:actions');
  const typePart = scope.slice(0, first);
  const name = scope.slice(first + 1, last);
  const actionsPart = scope.slice(last + 1);
  if (typePart.length === 0) fail('the resource type is empty');
  const typeMatch = TYPE_RE.exec(typePart);
  if (typeMatch === null) fail('the resource type must be lower-case letters and digits, optionally with a (class)');
  const type = typeMatch[1] as string;
  if (name.length === 0) fail('the resource name is empty');
  if (name.includes(':')) fail('the resource name must not contain ":"');
  if (type === 'repository') {
    const problem = repositoryNameProblem(name);
    if (problem !== undefined) fail(problem);
  }
  if (actionsPart.length === 0) fail('the action list is empty');
  const requested = actionsPart.split(',');
  if (requested.some((action) => action.length === 0)) fail('the action list has an empty entry');
  const actions = KNOWN_ACTIONS.filter((action) => requested.includes(action));
  return { type, name, actions };
}

/**
 * Parses every `scope` parameter of a request (each may hold several space-separated scopes) into access
 * entries, one per type and name, with the union of their known actions. Entries whose actions are all
 * unknown are dropped; unknown types are kept (the token endpoint grants them nothing). Throws ScopeError.
 */
export function parseScopes(params: readonly string[]): AccessEntry[] {
  const merged = new Map<string, AccessEntry>();
  let count = 0;
  for (const param of params) {
    for (const scope of param.split(' ')) {
      if (scope.length === 0) continue;
      count += 1;
      if (count > MAX_SCOPES) throw new ScopeError(scope, `too many scopes (at most ${MAX_SCOPES})`);
      const entry = parseScope(scope);
      if (entry.actions.length === 0) continue;
      const key = `${entry.type}\u0000${entry.name}`;
      const existing = merged.get(key);
      if (existing === undefined) {
        merged.set(key, entry);
      } else {
        existing.actions = KNOWN_ACTIONS.filter((a) => existing.actions.includes(a) || entry.actions.includes(a));
      }
    }
  }
  return [...merged.values()];
}

/** The scope string of an access entry: `repository:acme/app:pull,push`. */
export function formatScope(entry: AccessEntry): string {
  return `${entry.type}:${entry.name}:${entry.actions.join(',')}`;
}
