import type { Socket } from 'node:net';

/**
 * The real client address of a connection. Listeners that learn it from a PROXY protocol header
 * record it on the socket; everything else falls back to the socket's peer address.
 */
const REAL_ADDRESS = Symbol.for('quayside.realClientAddress');

interface AnnotatedSocket extends Socket {
  [REAL_ADDRESS]?: string;
}

/** Records the address a PROXY protocol header announced for this connection. */
export function setRealClientAddress(socket: Socket, address: string): void {
  (socket as AnnotatedSocket)[REAL_ADDRESS] = address;
}

/** The address to log and audit for a request arriving on `socket`. */
export function clientAddress(socket: Socket | undefined): string {
  if (!socket) return 'unknown';
  return (socket as AnnotatedSocket)[REAL_ADDRESS] ?? socket.remoteAddress ?? 'unknown';
}
