import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { MasterSocket, type ProcTable } from './master-socket.js';

/** Minimal logger shape (pino's) so this module does not depend on a logger instance. */
export interface ProcessLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface HaproxyProcessOptions {
  configPath: string;
  masterSocketPath: string;
  pidFile: string;
  /** The haproxy executable (default `haproxy` from PATH). */
  haproxyBin?: string;
  logger?: ProcessLogger;
  /** Lines of HAProxy output kept for diagnostics (default 500). */
  logLines?: number;
}

/** Raised when HAProxy cannot be started. */
export class HaproxyStartError extends Error {
  constructor(
    message: string,
    readonly output: string[],
  ) {
    super(message);
    this.name = 'HaproxyStartError';
  }
}

/**
 * One HAProxy in master-worker mode (`haproxy -W -S <master socket> -f <cfg> -p <pid>`) as a child
 * process. The master stays in the foreground so its output (startup, reload and worker-exit lines)
 * is captured here and can explain a failed reload.
 */
export class HaproxyProcess {
  private child: ChildProcess | undefined;
  private readonly lines: string[] = [];
  /** Number of lines ever received; a log "mark" is a value of this counter. */
  private lineCount = 0;
  private exited: Promise<number | null> | undefined;
  private exitCode: number | null | undefined;
  private stopping = false;
  readonly master: MasterSocket;

  constructor(private readonly options: HaproxyProcessOptions) {
    this.master = new MasterSocket(options.masterSocketPath);
  }

  /** PID of the master process, when running. */
  get pid(): number | undefined {
    return this.exitCode === undefined ? this.child?.pid : undefined;
  }

  /** True while the master process runs. */
  get running(): boolean {
    return this.child !== undefined && this.exitCode === undefined;
  }

  /** Starts HAProxy and resolves once the master CLI shows a worker. */
  async start(timeoutMs = 10_000): Promise<ProcTable> {
    if (this.running) throw new Error('HAProxy is already running');
    const bin = this.options.haproxyBin ?? 'haproxy';
    const args = ['-W', '-S', this.options.masterSocketPath, '-f', this.options.configPath, '-p', this.options.pidFile];
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exitCode = undefined;
    this.stopping = false;
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitCode = code;
        if (!this.stopping) {
          this.options.logger?.error({ code, signal }, 'haproxy master exited unexpectedly');
        }
        resolve(code);
      });
      child.on('error', (err) => {
        this.pushLine(`[spawn] ${err.message}`);
        this.exitCode = null;
        resolve(null);
      });
    });
    // Never leave an HAProxy behind when this process ends without stopping it (a crash, process.exit).
    const killOnExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    void this.exited.then(() => process.removeListener('exit', killOnExit));
    this.capture(child.stdout);
    this.capture(child.stderr);

    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exitCode !== undefined) {
        throw new HaproxyStartError(`haproxy exited during startup: ${this.alertSummary(0)}`, this.recentLog());
      }
      try {
        const table = await this.master.showProc();
        if (table.workers.length > 0) {
          this.options.logger?.info({ pid: table.master.pid, worker: table.workers[0]?.pid }, 'haproxy started');
          return table;
        }
      } catch {
        // Socket not there yet.
      }
      await sleep(25);
    }
    await this.stop();
    throw new HaproxyStartError(`haproxy did not start within ${timeoutMs} ms`, this.recentLog());
  }

  /**
   * Stops HAProxy: SIGUSR1 asks the master for a soft stop (workers finish their connections); after
   * `graceMs` SIGTERM ends them, and SIGKILL after another second if even that did not work.
   */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || this.exitCode !== undefined || !this.exited) return;
    this.stopping = true;
    const exited = this.exited;
    const waitExit = (ms: number): Promise<boolean> =>
      Promise.race([exited.then(() => true), sleep(ms).then(() => false)]);
    child.kill('SIGUSR1');
    if (await waitExit(graceMs)) return;
    child.kill('SIGTERM');
    if (await waitExit(1000)) return;
    child.kill('SIGKILL');
    await exited;
  }

  /** Resolves when the master exits, with its exit code. */
  waitExit(): Promise<number | null> {
    return this.exited ?? Promise.resolve(null);
  }

  /** Current log position, to be passed to `logSince`. */
  logMark(): number {
    return this.lineCount;
  }

  /** HAProxy output lines received after `mark` (as far as the ring buffer still holds them). */
  logSince(mark: number): string[] {
    const available = Math.min(this.lines.length, this.lineCount - mark);
    return available <= 0 ? [] : this.lines.slice(this.lines.length - available);
  }

  /** The most recent HAProxy output lines. */
  recentLog(): string[] {
    return [...this.lines];
  }

  private alertSummary(mark: number): string {
    const alerts = this.logSince(mark).filter((l) => l.includes('[ALERT]') || l.startsWith('[spawn]'));
    return alerts.length > 0 ? alerts.join('; ') : `no output (exit code ${String(this.exitCode)})`;
  }

  private capture(stream: NodeJS.ReadableStream | null): void {
    if (!stream) return;
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) if (part.trim() !== '') this.pushLine(part);
    });
    stream.on('end', () => {
      if (partial.trim() !== '') this.pushLine(partial);
      partial = '';
    });
  }

  private pushLine(line: string): void {
    this.lines.push(line);
    this.lineCount++;
    const max = this.options.logLines ?? 500;
    if (this.lines.length > max) this.lines.splice(0, this.lines.length - max);
    const logger = this.options.logger;
    if (!logger) return;
    if (line.includes('[ALERT]')) logger.error({ haproxy: line }, 'haproxy');
    else if (line.includes('[WARNING]')) logger.warn({ haproxy: line }, 'haproxy');
    else logger.info({ haproxy: line }, 'haproxy');
  }
}
