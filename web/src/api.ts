/**
 * The one way the UI talks to the server: fetch on the same origin, the session cookie as the only
 * credential (the browser attaches it; the UI never sees it), and every request that changes something sent
 * as JSON, which is the server's cross-site guard (src/api/session.ts). Errors come back as ApiError with
 * the server's own words, to be shown where the action happened.
 */

/** A failed API call: the HTTP status and the server's message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

function messageOf(status: number, body: unknown): string {
  if (typeof body === 'object' && body !== null) {
    const fields = body as Record<string, unknown>;
    for (const key of ['error_message', 'message', 'detail', 'error']) {
      const value = fields[key];
      if (typeof value === 'string' && value.trim() !== '') return value;
    }
  }
  if (status === 401) return 'You are not signed in.';
  if (status === 403) return 'You may not do this.';
  if (status === 404) return 'Not found.';
  if (status >= 500) return `The server failed (HTTP ${status}). Try again later.`;
  return `The request failed (HTTP ${status}).`;
}

/** Calls /api/v1`path`; resolves with the parsed JSON body (undefined for an empty one). */
export async function api<T>(method: Method, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      credentials: 'same-origin',
      headers: method === 'GET' ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'The server cannot be reached. Check your connection and try again.');
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  if (!response.ok) throw new ApiError(response.status, messageOf(response.status, parsed));
  return parsed as T;
}

/** The path of a repository under /api/v1, each component encoded. */
export function repositoryPath(namespace: string, name: string): string {
  return `/repository/${encodeURIComponent(namespace)}/${name.split('/').map(encodeURIComponent).join('/')}`;
}

/** A message for whatever a failed call threw. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
