import cluster, { type Worker } from 'node:cluster';
import type net from 'node:net';
import { isAcceptedMessage, isInvalidatedMessage, isInvalidateMessage, isReadyMessage, type ConnectionMessage, type InvalidatedMessage, type InvalidateMessage, type ListenerKind } from './messages.js';
import { SIBLING_ACK_TIMEOUT_MS } from './sibling-invalidation.js';

export interface WorkerPoolOptions {
  /** Worker processes to keep running. */
  count: number;
  /** Added to each worker's environment (the primary's own is inherited). */
  env: Record<string, string>;
  /** One line per event worth an operator's attention (a worker died, was replaced, ...). */
  say: (line: string) => void;
  /** A worker that has not exited this long after SIGTERM is killed (the drain window plus a margin). */
  stopTimeoutMs: number;
  /** The clock and timer of restart backoff, injectable for tests. */
  now?: () => number;
  /** A relayed invalidation no longer waits for a worker that has not applied it after this; default SIBLING_ACK_TIMEOUT_MS. */
  invalidationTimeoutMs?: number;
  /**
   * Test only (QUAYSIDE_TEST_RELAY_DELAY_MS, src/cluster/relay-delay.ts): holds each invalidation this long before
   * relaying it, as a primary starved of CPU would, so that a test can show the write waits for its siblings.
   */
  relayDelayMs?: number;
}

/** A worker that lived at least this long before dying restarts at once; sooner, it backs off. */
const HEALTHY_LIFETIME_MS = 10_000;
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;

/** Why the pool could not start: a worker exited before any became ready (its own output says why). */
export class WorkerStartError extends Error {}

interface Slot {
  worker: Worker;
  startedAt: number;
  ready: boolean;
  /** It let a relayed invalidation time out and has applied none since (said once, not on every write). */
  lagging: boolean;
}

/** An invalidation one worker sent, relayed to the others: answered to `origin` once none is left `waiting`. */
interface Relay {
  origin: Slot;
  originId: number;
  waiting: Set<Slot>;
  timer: NodeJS.Timeout;
}

/**
 * The primary's worker processes (node:cluster, running the same `quayside serve` command line): it forks
 * `count` of them, replaces one that dies (with a backoff while they keep dying young, so a crash loop does not
 * spin), hands each connection the primary accepts to the next ready worker in turn, forwards signals, and
 * stops them all with SIGTERM, each draining as a single-process `serve` does.
 *
 * Connections are dealt round robin by the primary rather than accepted by every worker on a shared socket:
 * Linux wakes whichever process is idle in epoll, which piles keep-alive connections onto a few workers.
 */
export class WorkerPool {
  private readonly slots = new Set<Slot>();
  private readonly waiting: Array<{ kind: ListenerKind; socket: net.Socket }> = [];
  private next = 0;
  private stopping = false;
  private everReady = false;
  private backoffMs = FIRST_BACKOFF_MS;
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private readonly now: () => number;
  private startFailure: ((error: Error) => void) | undefined;
  private startedWhenAllReady: (() => void) | undefined;
  /** Connections sent but not yet acknowledged, by message id: resent elsewhere if their worker dies. */
  private readonly unacknowledged = new Map<number, { kind: ListenerKind; socket: net.Socket; slot: Slot }>();
  private nextId = 0;
  /** Invalidations relayed and not yet applied by every other ready worker, by the id sent with them. */
  private readonly relays = new Map<number, Relay>();
  private nextRelayId = 0;

  constructor(private readonly options: WorkerPoolOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Forks the workers; resolves once every one is ready, rejects when one exits before any was. */
  async start(): Promise<void> {
    const allReady = new Promise<void>((resolve, reject) => {
      this.startFailure = reject;
      // Counted on every ready message, so a worker that died young and was replaced still counts.
      this.startedWhenAllReady = resolve;
      for (let i = 0; i < this.options.count; i++) this.fork();
    });
    try {
      await allReady;
    } finally {
      this.startFailure = undefined;
      this.startedWhenAllReady = undefined;
    }
  }

  /** The pids of the running workers (for tests and logs). */
  pids(): number[] {
    return [...this.slots].map((slot) => slot.worker.process.pid ?? 0).filter((pid) => pid > 0);
  }

  /** Hands an accepted connection to the next ready worker; holds it while none is (all restarting). */
  dispatch(kind: ListenerKind, socket: net.Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const ready = [...this.slots].filter((slot) => slot.ready && slot.worker.isConnected());
    if (ready.length === 0) {
      this.waiting.push({ kind, socket });
      socket.once('close', () => {
        const index = this.waiting.findIndex((entry) => entry.socket === socket);
        if (index >= 0) this.waiting.splice(index, 1);
      });
      return;
    }
    const slot = ready[this.next++ % ready.length]!;
    const id = this.nextId++;
    const message: ConnectionMessage = { type: 'quayside:connection', listener: kind, id };
    // keepOpen: this process keeps its copy of the socket until the worker says it has it. A worker killed
    // after the send but before reading it would otherwise take the connection with it, and the client hang.
    this.unacknowledged.set(id, { kind, socket, slot });
    slot.worker.send(message, socket, { keepOpen: true }, (error) => {
      if (error === null || error === undefined) return;
      // The worker died between the choice and the send: another one takes the connection.
      this.unacknowledged.delete(id);
      if (!socket.destroyed) this.dispatch(kind, socket);
    });
  }

  /** Sends `signal` to every worker (SIGHUP: each reloads its certificate). */
  signal(signal: NodeJS.Signals): void {
    for (const slot of this.slots) slot.worker.process.kill(signal);
  }

  /** SIGTERM to every worker; resolves when all have exited (SIGKILL for one that outlasts stopTimeoutMs). */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    // Relayed invalidations are left to finish: the workers apply them while they drain, and each one's exit
    // releases what waited for it (onExit), so none is left once all have exited.
    for (const { socket } of this.waiting.splice(0)) socket.destroy();
    for (const { socket } of this.unacknowledged.values()) socket.destroy();
    this.unacknowledged.clear();
    await Promise.all(
      [...this.slots].map(
        (slot) =>
          new Promise<void>((resolve) => {
            const { worker } = slot;
            if (worker.process.exitCode !== null || worker.process.signalCode !== null) {
              resolve();
              return;
            }
            const killer = setTimeout(() => worker.process.kill('SIGKILL'), this.options.stopTimeoutMs);
            worker.once('exit', () => {
              clearTimeout(killer);
              resolve();
            });
            worker.process.kill('SIGTERM');
          }),
      ),
    );
  }

  private fork(): void {
    const worker = cluster.fork(this.options.env);
    const slot: Slot = { worker, startedAt: this.now(), ready: false, lagging: false };
    this.slots.add(slot);
    worker.on('message', (message: unknown) => {
      if (isInvalidateMessage(message)) {
        this.relay(slot, message);
        return;
      }
      if (isInvalidatedMessage(message)) {
        slot.lagging = false;
        this.applied(message.id, slot);
        return;
      }
      if (isAcceptedMessage(message)) {
        const sent = this.unacknowledged.get(message.id);
        this.unacknowledged.delete(message.id);
        // The worker holds its own descriptor now; closing ours does not end the connection.
        sent?.socket.destroy();
        return;
      }
      if (!isReadyMessage(message) || slot.ready) return;
      slot.ready = true;
      this.everReady = true;
      if ([...this.slots].filter((each) => each.ready).length >= this.options.count) this.startedWhenAllReady?.();
      this.flushWaiting();
    });
    // An 'error' on the IPC channel of a dying worker is followed by its 'exit', which is what counts here.
    worker.on('error', () => undefined);
    worker.once('exit', (code, signal) => this.onExit(slot, code, signal));
  }

  /**
   * A write through `origin`: every other worker drops what it cached of those groups, and `origin` hears when
   * every ready one has (it answers the write then). A worker not ready yet is sent the message but not waited
   * for: it has served nothing, and may not listen yet.
   */
  private relay(origin: Slot, message: InvalidateMessage): void {
    const others = [...this.slots].filter((other) => other !== origin && other.worker.isConnected());
    const id = this.nextRelayId++;
    const waiting = new Set(others.filter((other) => other.ready));
    const relay: Relay = { origin, originId: message.id, waiting, timer: setTimeout(() => this.giveUp(id), this.options.invalidationTimeoutMs ?? SIBLING_ACK_TIMEOUT_MS) };
    this.relays.set(id, relay);
    const send = () => {
      for (const other of others) {
        other.worker.send({ type: 'quayside:invalidate', groups: message.groups, id } satisfies InvalidateMessage, undefined, {}, (error: Error | null) => {
          // Its channel closed: it is dying, and its replacement starts with an empty cache.
          if (error !== null && error !== undefined) this.applied(id, other);
        });
      }
    };
    if (waiting.size === 0) this.answer(id);
    const delay = this.options.relayDelayMs ?? 0;
    if (delay > 0) setTimeout(send, delay);
    else send();
  }

  private applied(id: number, slot: Slot): void {
    const relay = this.relays.get(id);
    if (relay === undefined || !relay.waiting.delete(slot)) return;
    if (relay.waiting.size === 0) this.answer(id);
  }

  private answer(id: number): void {
    const relay = this.relays.get(id);
    if (relay === undefined) return;
    clearTimeout(relay.timer);
    this.relays.delete(id);
    if (relay.origin.worker.isConnected()) relay.origin.worker.send({ type: 'quayside:invalidated', id: relay.originId } satisfies InvalidatedMessage);
  }

  /** The origin has answered its write by now (its own bound); the laggard is named once, not on every write. */
  private giveUp(id: number): void {
    const relay = this.relays.get(id);
    if (relay === undefined) return;
    this.relays.delete(id);
    for (const slot of relay.waiting) {
      if (slot.lagging) continue;
      slot.lagging = true;
      const ms = this.options.invalidationTimeoutMs ?? SIBLING_ACK_TIMEOUT_MS;
      this.options.say(`quayside: worker process ${slot.worker.process.pid} did not apply a cache invalidation within ${ms} ms; writes through the other workers are answered without it`);
    }
  }

  private onExit(slot: Slot, code: number | null, signal: string | null): void {
    this.slots.delete(slot);
    // What waited for it waits no more: its replacement starts with an empty cache. What it sent goes unanswered.
    for (const [id, relay] of this.relays) {
      if (relay.origin === slot) {
        clearTimeout(relay.timer);
        this.relays.delete(id);
      } else this.applied(id, slot);
    }
    for (const [id, sent] of this.unacknowledged) {
      if (sent.slot !== slot) continue;
      this.unacknowledged.delete(id);
      if (this.stopping) sent.socket.destroy();
      else if (!sent.socket.destroyed) this.dispatch(sent.kind, sent.socket);
    }
    if (this.stopping) return;
    const how = signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
    const pid = slot.worker.process.pid;
    if (!this.everReady && this.startFailure !== undefined) {
      this.stopping = true;
      this.startFailure(new WorkerStartError(`serve: worker process ${pid} ${how} before it could serve`));
      void this.stop();
      return;
    }
    const lived = this.now() - slot.startedAt;
    const delay = lived >= HEALTHY_LIFETIME_MS ? 0 : this.backoffMs;
    this.backoffMs = lived >= HEALTHY_LIFETIME_MS ? FIRST_BACKOFF_MS : Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.options.say(`quayside: worker process ${pid} ${how}; starting a new one${delay > 0 ? ` in ${delay} ms` : ''}`);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (!this.stopping) this.fork();
    }, delay);
    this.restartTimers.add(timer);
  }

  private flushWaiting(): void {
    for (const { kind, socket } of this.waiting.splice(0)) if (!socket.destroyed) this.dispatch(kind, socket);
  }
}
