import type net from 'node:net';
import { isConnectionMessage, type AcceptedMessage, type ListenerKind } from './messages.js';

/**
 * A worker's side of a port the primary holds: the primary accepts each connection and sends the socket to one
 * worker (round robin, src/cluster/worker-pool.ts), which hands it to the server attached here, as if that
 * server had accepted it. The same shape as the primary's EarlyListener (port, attach, close), so the worker
 * attaches its HTTP, TLS and PROXY servers with the same code as a single-process `serve`.
 */
export class DispatchedListener {
  private target: net.Server | undefined;
  private readonly waiting: net.Socket[] = [];
  /** Connections handed to the server and still open. */
  private readonly open = new Set<net.Socket>();

  constructor(readonly port: number) {}

  async attach(target: net.Server): Promise<void> {
    this.target = target;
    for (const socket of this.waiting.splice(0)) this.handOver(socket);
  }

  /** A connection the primary sent. */
  receive(socket: net.Socket): void {
    if (this.target === undefined) this.waiting.push(socket);
    else this.handOver(socket);
  }

  /**
   * Cuts the connections that arrived before a server was attached, then resolves once every connection handed
   * to the server has closed. The server cannot wait for them itself: a server that never listened calls back
   * from close() at once, whatever it still serves, so a drain waits here (bounded by the caller's drain timer).
   */
  async close(): Promise<void> {
    for (const socket of this.waiting.splice(0)) socket.destroy();
    await Promise.all([...this.open].map((socket) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())))));
  }

  private handOver(socket: net.Socket): void {
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    this.target?.emit('connection', socket);
    // The primary accepted it paused (it never reads a byte); the server attached here reads from now on.
    socket.resume();
  }
}

/** Routes the connections the primary sends to this worker's listeners; returns a function that stops it. */
export function receiveConnections(listeners: Partial<Record<ListenerKind, DispatchedListener>>): () => void {
  const onMessage = (message: unknown, handle: unknown) => {
    if (!isConnectionMessage(message)) return;
    const socket = handle as net.Socket | undefined;
    process.send?.({ type: 'quayside:accepted', id: message.id } satisfies AcceptedMessage);
    if (socket === undefined) return;
    const listener = listeners[message.listener];
    if (listener === undefined) socket.destroy();
    else listener.receive(socket);
  };
  process.on('message', onMessage);
  return () => process.off('message', onMessage);
}
