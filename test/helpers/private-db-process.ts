// A database server process that a fault test owns: started on a free port in a temporary directory, stopped,
// restarted, paused (SIGSTOP) and resumed by the test, never the shared servers on 5432/3306. The specific
// servers are in private-postgres.ts and private-mariadb.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { killOnExit, signalGroup } from './processes.js';


/** The pids of a process and all its descendants, from /proc (PostgreSQL backends each lead their own group). */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The command name is in parentheses and may hold spaces; the parent pid is the second field after it.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const tree: number[] = [];
  const visit = (pid: number) => {
    tree.push(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return tree;
}

function signalTree(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  for (const pid of processTree(child.pid)) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone meanwhile.
    }
  }
}

/** The uid and gid of a system user (e.g. postgres), or a clear error naming it. */
export function systemUser(name: string): { uid: number; gid: number } {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) throw new Error(`system user "${name}" does not exist (install its server package)`);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Runs a setup command to completion; throws with its output when it fails. */
export function runSetup(command: string, args: string[], user?: { uid: number; gid: number }): void {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 120_000, ...(user ?? {}) });
  if (result.error !== undefined) throw new Error(`cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
}

export interface ServerProcessSpec {
  command: string;
  args: string[];
  /** A line of its output once it accepts connections. */
  ready: RegExp;
  /** A line saying the port was taken (the start is retried on another port only the first time). */
  portTaken: RegExp;
  /** The signal of a fast shutdown that ends client sessions (PostgreSQL: SIGINT; MariaDB: SIGTERM). */
  stopSignal: NodeJS.Signals;
  user?: { uid: number; gid: number };
}

/** One server process at a time, restartable with the same arguments. */
export class ServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output: string[] = [];

  constructor(private readonly spec: ServerProcessSpec) {}

  /** Starts the server and resolves once it accepts connections; rejects with its output otherwise. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.child !== undefined) throw new Error('the server is already running');
    this.output = [];
    const child = spawn(this.spec.command, this.spec.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that the exit handler can kill what is left of it.
      detached: true,
      ...(this.spec.user ?? {}),
    });
    killOnExit(child);
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        this.child = undefined;
        resolve();
      });
    });
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        const lines = chunk.toString('utf8').split('\n');
        this.output.push(...lines);
        if (this.output.length > 400) this.output.splice(0, this.output.length - 400);
        if (lines.some((line) => this.spec.ready.test(line))) resolve();
        if (lines.some((line) => this.spec.portTaken.test(line))) reject(new PortTakenError(this.describe()));
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (error) => reject(new Error(`cannot start ${this.spec.command}: ${error.message}`)));
      child.once('exit', (code, signal) => reject(new Error(`${this.spec.command} exited (${code ?? signal}) before it was ready:\n${this.describe()}`)));
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.spec.command} was not ready within ${timeoutMs} ms:\n${this.describe()}`)), timeoutMs);
    });
    try {
      await Promise.race([ready, timeout]);
    } catch (error) {
      await this.kill();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A fast shutdown: sessions are ended (as in a failover or restart); resolves once the process is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    // A paused server cannot shut down.
    signalTree(child, 'SIGCONT');
    child.kill(this.spec.stopSignal);
    await this.exited;
  }

  /** Every process of the server stops answering (a hung database): connections stay open, nothing replies. */
  pause(): void {
    if (this.child === undefined) throw new Error('the server is not running');
    signalTree(this.child, 'SIGSTOP');
  }

  resume(): void {
    if (this.child !== undefined) signalTree(this.child, 'SIGCONT');
  }

  running(): boolean {
    return this.child !== undefined;
  }

  /** SIGKILL to the whole group (cleanup after a failure). */
  async kill(): Promise<void> {
    if (this.child === undefined) return;
    signalTree(this.child, 'SIGCONT');
    signalTree(this.child, 'SIGKILL');
    await this.exited;
  }

  private describe(): string {
    return `${this.spec.command} ${this.spec.args.join(' ')}\n${this.output.slice(-40).join('\n')}`;
  }
}

/** The server's port was taken between choosing it and binding it. */
export class PortTakenError extends Error {
  override name = 'PortTakenError';
}

/** The database server a fault test controls. */
export interface PrivateDatabaseServer {
  readonly dialect: 'postgres' | 'mysql';
  readonly port: number;
  /** A Quay DB_URI of an empty database on it. */
  readonly uri: string;
  /** Starts it again after stop(); resolves once it accepts connections. */
  start(): Promise<void>;
  /** Fast shutdown (sessions ended); resolves once it is down. */
  stop(): Promise<void>;
  /** SIGSTOP every process of the server. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

/** The PrivateDatabaseServer of a started ServerProcess whose data lives in `dir`. */
export function privateDatabaseServer(
  dialect: PrivateDatabaseServer['dialect'],
  port: number,
  uri: string,
  server: ServerProcess,
  dir: string,
): PrivateDatabaseServer {
  return {
    dialect,
    port,
    uri,
    start: () => server.start(),
    stop: () => server.stop(),
    pause: () => server.pause(),
    resume: () => server.resume(),
    destroy: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
