import type { FastifyRequest } from 'fastify';
import { queryOf } from './url.js';

/**
 * PostgreSQL cannot store U+0000 in text: a NUL that reaches a query makes the driver fail, which a
 * client would see as a 500. NUL is never meaningful in a name, a cursor, a credential or a description,
 * so each API refuses it in one hook, before any handler, with a 400 in its own error shape.
 */

const NUL = '\u0000';

/** What of the request to look at besides the query string and the Authorization header. */
export interface NulCheckParts {
  /** The decoded path parameters (off for /v2, whose router validates names and references itself). */
  params?: boolean;
  /** The parsed JSON body: every string, keys included. */
  body?: boolean;
}

/** A name for a message: escaped (JSON shows the NUL as \u0000) and short. */
function shown(name: string): string {
  return JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}…` : name);
}

/** The credentials of a Basic Authorization header as decoded text, or the header itself for other schemes. */
function authorizationText(header: string): string {
  const basic = /^Basic +(\S+)\s*$/i.exec(header);
  return basic === null ? header : Buffer.from(basic[1]!, 'base64').toString('utf8');
}

/** The dotted path of the first string in `value` (walked without recursion) that holds a NUL. */
function nulInJson(value: unknown): string | undefined {
  const pending: Array<{ value: unknown; path: string }> = [{ value, path: '' }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value: item, path } = next;
    if (typeof item === 'string') {
      if (item.includes(NUL)) return path;
    } else if (Array.isArray(item)) {
      item.forEach((element, i) => pending.push({ value: element, path: `${path}[${i}]` }));
    } else if (typeof item === 'object' && item !== null) {
      for (const [key, field] of Object.entries(item)) {
        const fieldPath = path === '' ? key : `${path}.${key}`;
        if (key.includes(NUL)) return fieldPath;
        pending.push({ value: field, path: fieldPath });
      }
    }
  }
  return undefined;
}

/**
 * Where the request carries a NUL character, as the subject of an error message ("the query parameter
 * \"last\""), or undefined when it carries none.
 */
export function findNulCharacter(request: FastifyRequest, parts: NulCheckParts = {}): string | undefined {
  for (const [key, value] of queryOf(request.url)) {
    if (key.includes(NUL) || value.includes(NUL)) return `the query parameter ${shown(key)}`;
  }
  const authorization = request.headers.authorization;
  if (authorization !== undefined && authorizationText(authorization).includes(NUL)) return 'the Authorization header';
  if (parts.params === true && typeof request.params === 'object' && request.params !== null) {
    for (const [key, value] of Object.entries(request.params)) {
      // A wildcard route's parameter is the rest of the path, which has no name of its own.
      if (typeof value === 'string' && value.includes(NUL)) return key === '*' ? 'the path' : `the path parameter ${shown(key)}`;
    }
  }
  if (parts.body === true && request.body !== undefined) {
    const path = nulInJson(request.body);
    if (path !== undefined) return path === '' ? 'the JSON body' : `the JSON body field ${shown(path)}`;
  }
  return undefined;
}

/** The client-facing sentence for a NUL found at `where`. */
export function nulCharacterMessage(where: string): string {
  return `${where} contains a NUL character (U+0000), which is not allowed`;
}
