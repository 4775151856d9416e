import { setTimeout as sleep } from 'node:timers/promises';
import { CliSocketError, sendCliCommand } from './cli-socket.js';

/** One process line of the master CLI's `show proc`. */
export interface ProcEntry {
  pid: number;
  /** For the master: reloads since start. For a worker: reloads it has lived through. */
  reloads: number;
  uptime: string;
  version: string;
}

/** The parsed answer to `show proc` (HAProxy 2.6 layout). */
export interface ProcTable {
  master: ProcEntry & { failedReloads: number };
  /** Workers of the current generation (normally one). */
  workers: ProcEntry[];
  /** Workers still draining connections after a reload. */
  oldWorkers: ProcEntry[];
}

/** Raised when a reload could not be confirmed; the previous worker keeps serving. */
export class ReloadError extends Error {
  constructor(
    message: string,
    readonly details: string[],
  ) {
    super(message);
    this.name = 'ReloadError';
  }
}

/** What a confirmed reload produced. */
export interface ReloadResult {
  masterReloads: number;
  workerPids: number[];
  durationMs: number;
}

/** Parses `show proc` from the master CLI. Throws on text that has no master line. */
export function parseShowProc(text: string): ProcTable {
  let section: 'master' | 'workers' | 'old' | 'programs' = 'master';
  let master: ProcTable['master'] | undefined;
  const workers: ProcEntry[] = [];
  const oldWorkers: ProcEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#<PID>')) continue;
    if (line.startsWith('#')) {
      if (/old workers/i.test(line)) section = 'old';
      else if (/workers/i.test(line)) section = 'workers';
      else if (/programs/i.test(line)) section = 'programs';
      continue;
    }
    // "<pid> <type> <reloads> [failed: N] <uptime> <version>"; the failed part only on the master.
    const m = /^(\d+)\s+(\S+)\s+(\d+)(?:\s+\[failed:\s*(\d+)\])?\s+(\S+)\s*(\S*)/.exec(line);
    if (!m) continue;
    const entry: ProcEntry = { pid: Number(m[1]), reloads: Number(m[3]), uptime: m[5] ?? '', version: m[6] ?? '' };
    if (m[2] === 'master') {
      master = { ...entry, failedReloads: Number(m[4] ?? '0') };
    } else if (m[2] === 'worker') {
      if (section === 'old') oldWorkers.push(entry);
      else workers.push(entry);
    }
  }
  if (!master) throw new Error(`unexpected "show proc" answer: ${JSON.stringify(text.slice(0, 200))}`);
  return { master, workers, oldWorkers };
}

export interface MasterSocketOptions {
  timeoutMs?: number;
}

export interface ReloadOptions {
  /** How long to wait for the new worker (default 10 s). */
  confirmTimeoutMs?: number;
  /** Returns HAProxy's log lines written since `mark`; used to explain a failed reload. */
  logSince?: (mark: number) => string[];
  /** Current position in HAProxy's log, taken before the reload. */
  logMark?: () => number;
}

/** Client for HAProxy's master CLI (`haproxy -W -S <path>`). */
export class MasterSocket {
  private readonly timeoutMs: number;

  constructor(
    readonly path: string,
    options: MasterSocketOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 2000;
  }

  /** Runs `show proc`. */
  async showProc(): Promise<ProcTable> {
    return parseShowProc(await sendCliCommand(this.path, 'show proc', { timeoutMs: this.timeoutMs }));
  }

  /** Sends a command to the current worker through the master (`@1 <command>`). */
  async workerCommand(command: string): Promise<string> {
    return sendCliCommand(this.path, `@1 ${command}`, { timeoutMs: this.timeoutMs });
  }

  /**
   * Reloads HAProxy and confirms it: the master's reload counter must grow, its failed-reload counter
   * must stay at zero and a new worker must run. HAProxy 2.6 answers `reload` with nothing useful, so
   * the outcome is read from `show proc`. On failure the old worker keeps serving and a ReloadError
   * carries HAProxy's own error lines.
   */
  async reload(options: ReloadOptions = {}): Promise<ReloadResult> {
    const started = Date.now();
    const before = await this.showProc();
    const oldPids = new Set(before.workers.map((w) => w.pid));
    const mark = options.logMark?.() ?? 0;
    try {
      await sendCliCommand(this.path, 'reload', { timeoutMs: this.timeoutMs });
    } catch (err) {
      // The master re-executes itself on reload and may close the socket before answering.
      if (!(err instanceof CliSocketError)) throw err;
    }
    const deadline = started + (options.confirmTimeoutMs ?? 10_000);
    let lastError = '';
    while (Date.now() < deadline) {
      let table: ProcTable;
      try {
        table = await this.showProc();
      } catch (err) {
        // While the master re-executes, its socket is briefly gone.
        lastError = err instanceof Error ? err.message : String(err);
        await sleep(25);
        continue;
      }
      if (table.master.reloads > before.master.reloads) {
        if (table.master.failedReloads > 0) {
          const details = options.logSince?.(mark).filter((l) => /\[(ALERT|WARNING)\]/.test(l)) ?? [];
          const alerts = details.filter((l) => l.includes('[ALERT]'));
          const summary = alerts.length > 0 ? alerts.map(stripLogPrefix).join('; ') : 'see HAProxy log';
          throw new ReloadError(`HAProxy reload failed, previous worker kept: ${summary}`, details);
        }
        const fresh = table.workers.filter((w) => !oldPids.has(w.pid));
        if (fresh.length > 0) {
          return {
            masterReloads: table.master.reloads,
            workerPids: fresh.map((w) => w.pid),
            durationMs: Date.now() - started,
          };
        }
      }
      await sleep(25);
    }
    throw new ReloadError(`HAProxy reload not confirmed within ${options.confirmTimeoutMs ?? 10_000} ms`, lastError ? [lastError] : []);
  }
}

/** "[ALERT]    (123) : config : parsing [x.cfg:3] : ..." -> "config : parsing [x.cfg:3] : ...". */
function stripLogPrefix(line: string): string {
  return line.replace(/^\[\w+\]\s*\(\d+\)\s*:\s*/, '');
}
