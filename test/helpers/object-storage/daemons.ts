// Long-running helper processes of the object-storage server (memcached, uwsgi+keystone, the Swift servers):
// spawned in their own process group with their output in a log file, ready when an HTTP or TCP probe
// answers, stopped with SIGTERM then SIGKILL. Killed when the test process exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { killOnExit, signalGroup } from '../processes.js';

export interface Daemon {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  running(): boolean;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once it is gone. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

export interface DaemonOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** The last lines of a daemon's log, for error messages that say why it did not come up. */
export function logTail(logFile: string, lines = 40): string {
  try {
    return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export function spawnDaemon(options: DaemonOptions): Daemon {
  const fd = openSync(options.logFile, 'a');
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  // The daemons must not keep a test process alive once its tests are done: it kills them when it exits.
  child.unref();
  killOnExit(child);
  child.once('error', () => undefined);
  const exited = new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) done();
    else child.once('exit', () => done());
  });
  const running = () => child.pid !== undefined && child.exitCode === null && child.signalCode === null;
  return {
    name: options.name,
    child,
    logFile: options.logFile,
    running,
    async stop(graceMs = 5_000) {
      if (!running()) return;
      signalGroup(child, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Waits until `probe` resolves true; fails early with the daemon's log if it exits, and after `timeoutMs`
 * naming what never happened.
 */
export async function waitReady(daemon: Daemon, what: string, probe: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!daemon.running()) {
      throw new Error(`${daemon.name} exited (code ${daemon.child.exitCode}) before ${what}; its log ${daemon.logFile}:\n${logTail(daemon.logFile)}`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new Error(`${daemon.name}: no ${what} within ${timeoutMs} ms; its log ${daemon.logFile}:\n${logTail(daemon.logFile)}`);
    }
    await sleep(100);
  }
}

/** True when `url` answers with a status below 500 (probe for a daemon that is up). */
export async function httpAnswers(url: string, expectStatus?: number): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  await response.arrayBuffer();
  return expectStatus === undefined ? response.status < 500 : response.status === expectStatus;
}

/** True when a TCP connection to 127.0.0.1:`port` is accepted. */
export function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
