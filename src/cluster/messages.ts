/** The listeners a `serve` may have; the primary names one with each connection it hands to a worker. */
export type ListenerKind = 'http' | 'https' | 'proxy';

/** primary -> worker: the socket sent along is a new connection of `listener`. */
export interface ConnectionMessage {
  type: 'quayside:connection';
  listener: ListenerKind;
  /** Acknowledged with an AcceptedMessage: until then the primary keeps its copy, to resend should this worker die. */
  id: number;
}

/** worker -> primary: the connection `id` reached this worker's server. */
export interface AcceptedMessage {
  type: 'quayside:accepted';
  id: number;
}

/** worker -> primary: the application is built and takes connections. */
export interface ReadyMessage {
  type: 'quayside:ready';
}

export function isConnectionMessage(message: unknown): message is ConnectionMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'quayside:connection';
}

export function isAcceptedMessage(message: unknown): message is AcceptedMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'quayside:accepted';
}

export function isReadyMessage(message: unknown): message is ReadyMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'quayside:ready';
}

/** The environment variable that carries the bound ports to the workers, as JSON ({http: 5000, ...}). */
export const WORKER_PORTS_ENV = 'QUAYSIDE_WORKER_PORTS';

/**
 * worker -> primary: the cache groups a write changed (src/cache/, without or besides Redis), `id` numbered by
 * the sending worker; primary -> every other worker: the same groups, `id` numbered by the primary.
 */
export interface InvalidateMessage {
  type: 'quayside:invalidate';
  groups: string[];
  id: number;
}

/**
 * worker -> primary: the worker dropped the groups of invalidation `id` (the primary's number); primary ->
 * worker: every other worker did so for its invalidation `id` (the worker's number), or died.
 */
export interface InvalidatedMessage {
  type: 'quayside:invalidated';
  id: number;
}

export function isInvalidateMessage(message: unknown): message is InvalidateMessage {
  if (typeof message !== 'object' || message === null) return false;
  const { type, groups, id } = message as { type?: unknown; groups?: unknown; id?: unknown };
  return type === 'quayside:invalidate' && typeof id === 'number' && Array.isArray(groups) && groups.every((group) => typeof group === 'string');
}

export function isInvalidatedMessage(message: unknown): message is InvalidatedMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'quayside:invalidated' && typeof (message as { id?: unknown }).id === 'number';
}
