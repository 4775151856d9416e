import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The real client address of a connection or request. Listeners that learn it from a PROXY protocol header
 * record it on the socket; a request from a trusted proxy may carry it in X-Forwarded-For (recorded on the
 * request by the application's edge hook); everything else falls back to the socket's peer address.
 */
const REAL_ADDRESS = Symbol.for('quayside.realClientAddress');

interface Annotated {
  [REAL_ADDRESS]?: string;
}

/** Records the address a PROXY protocol header announced for this connection. */
export function setRealClientAddress(socket: Socket, address: string): void {
  (socket as Socket & Annotated)[REAL_ADDRESS] = address;
}

/** Records the address a trusted proxy forwarded for this one request (a keep-alive connection may carry many). */
export function setForwardedClientAddress(request: IncomingMessage, address: string): void {
  (request as IncomingMessage & Annotated)[REAL_ADDRESS] = address;
}

function isRequest(source: Socket | IncomingMessage): source is IncomingMessage {
  return 'headers' in source && 'socket' in source;
}

/** The address to log, audit and throttle by, for a request (or a connection) arriving on `source`. */
export function clientAddress(source: Socket | IncomingMessage | undefined): string {
  if (!source) return 'unknown';
  if (isRequest(source)) return (source as IncomingMessage & Annotated)[REAL_ADDRESS] ?? clientAddress(source.socket);
  return (source as Socket & Annotated)[REAL_ADDRESS] ?? source.remoteAddress ?? 'unknown';
}
