/**
 * The control loop of `quayside lb`: takes models from the sources, diffs them against the live one and
 * applies the difference the cheapest safe way. Backend churn goes through the runtime API (no reload) and
 * the configuration file is rewritten so that the next reload keeps it; certificate content goes through
 * `set ssl cert`; anything structural is rendered, checked with `haproxy -c`, renamed over the live file
 * and reloaded through the master socket, at most once per debounce window. A candidate that fails leaves
 * the last good configuration serving and is reported.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { LoadBalancerModel, RenderedFile, RenderPaths } from './model.js';
import { diffModels, describeBackendChanges } from './model-diff.js';
import { HaproxyProcess } from './haproxy/process.js';
import { ReloadError, type ProcTable } from './haproxy/master-socket.js';
import { RuntimeApi } from './haproxy/runtime-api.js';
import { checkConfigFile } from './haproxy/validate-config.js';
import { layoutFromModel, locateServer, planBackendChanges, serverStateFileFor, type RuntimeLayout } from './runtime-layout.js';
import { serviceStatuses, type ServiceStatus } from './status.js';
import { LbMetrics } from './metrics.js';
import { certificateFiles, render } from './render.js';

/** The renderer the controller uses (injectable so tests can feed a broken one). */
export interface Renderer {
  render(model: LoadBalancerModel, paths: RenderPaths): string;
  files(model: LoadBalancerModel, paths: RenderPaths): RenderedFile[];
}

export interface ControllerOptions {
  /** Directory for the live config, candidates, sockets, pid and certificate files. */
  stateDir: string;
  logger: Logger;
  /** At most one reload per window (default 500 ms). */
  debounceMs?: number;
  haproxyBin?: string;
  metrics?: LbMetrics;
  renderer?: Renderer;
}

/** The last problem the controller could not apply. */
export interface ControllerError {
  at: string;
  source: string;
  message: string;
  details: string[];
}

/** What `/status` answers. */
export interface ControllerStatus {
  haproxy: {
    running: boolean;
    masterPid: number | null;
    workerPids: number[];
    oldWorkerPids: number[];
    /** The master's reload counter (`show proc`). */
    reloads: number | null;
  };
  reloads: number;
  reloadFailures: number;
  runtimeUpdates: number;
  lastReload: { at: string; reason: string; durationMs: number } | null;
  /** The last problem not yet superseded: cleared once a model from the sources is served again. */
  lastError: ControllerError | null;
  pending: boolean;
  services: ServiceStatus[];
}

const defaultRenderer: Renderer = { render, files: certificateFiles };

/** Writes a file by renaming a sibling temporary file over it, so readers never see half a file. */
async function writeAtomic(path: string, contents: string, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, contents, { mode });
  await rename(tmp, path);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Drives one HAProxy from a stream of models. */
export class LbController {
  readonly metrics: LbMetrics;
  private readonly logger: Logger;
  private readonly debounceMs: number;
  private readonly renderer: Renderer;
  private readonly haproxy: HaproxyProcess;
  readonly runtime: RuntimeApi;
  readonly paths: { config: string; candidate: string; masterSocket: string; adminSocket: string; pidFile: string; serverState: string };

  private live: LoadBalancerModel | undefined;
  private liveText = '';
  private layout: RuntimeLayout = new Map();
  private generation = 0;
  private certDir = '';
  private pending: LoadBalancerModel | undefined;
  private forceReason: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private working = false;
  private lastReloadAt = 0;
  private idleWaiters: Array<() => void> = [];
  private counters = { reloads: 0, reloadFailures: 0, runtimeUpdates: 0 };
  private lastReload: ControllerStatus['lastReload'] = null;
  private lastError: ControllerError | null = null;
  private stopped = false;

  constructor(private readonly options: ControllerOptions) {
    this.logger = options.logger;
    this.debounceMs = options.debounceMs ?? 500;
    this.metrics = options.metrics ?? new LbMetrics();
    this.renderer = options.renderer ?? defaultRenderer;
    const dir = options.stateDir;
    this.paths = {
      config: join(dir, 'haproxy.cfg'),
      candidate: join(dir, 'haproxy.cfg.candidate'),
      masterSocket: join(dir, 'master.sock'),
      adminSocket: join(dir, 'admin.sock'),
      pidFile: join(dir, 'haproxy.pid'),
      serverState: join(dir, 'server-state'),
    };
    this.haproxy = new HaproxyProcess({
      configPath: this.paths.config,
      masterSocketPath: this.paths.masterSocket,
      pidFile: this.paths.pidFile,
      haproxyBin: options.haproxyBin,
      logger: this.logger.child({ component: 'haproxy' }),
    });
    this.runtime = new RuntimeApi(this.paths.adminSocket);
  }

  /** The model HAProxy currently serves. */
  get liveModel(): LoadBalancerModel | undefined {
    return this.live;
  }

  /** Renders, checks and writes the first configuration, then starts HAProxy. Throws if any step fails. */
  async start(model: LoadBalancerModel): Promise<void> {
    await mkdir(this.options.stateDir, { recursive: true });
    await writeAtomic(this.paths.serverState, '1\n');
    const { text, certDir } = await this.prepareCandidate(model);
    await rename(this.paths.candidate, this.paths.config);
    await this.haproxy.start();
    this.commitLive(model, text, certDir);
    this.lastReloadAt = Date.now();
    this.logger.info({ services: model.services.length, config: this.paths.config }, 'load balancer started');
  }

  /** Queues a new model from a source; bursts are coalesced. */
  submit(model: LoadBalancerModel): void {
    if (this.stopped) return;
    this.pending = model;
    // A short settle lets a burst of source events (several etcd keys) land in one model.
    this.schedule(Math.min(20, this.debounceMs));
  }

  /** Records a model that a source could not build; the live configuration stays. */
  reportSourceError(source: string, err: unknown): void {
    this.metrics.invalidConfigs.inc();
    const details = err instanceof Error && 'issues' in err && Array.isArray(err.issues) ? err.message.split('\n') : [];
    this.recordError(source, `rejected: ${errorMessage(err)}`, details);
  }

  /** Resolves once every submitted model has been applied (or rejected). */
  settled(): Promise<void> {
    if (!this.working && !this.timer && !this.pending) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Live status: HAProxy processes, counters, last reload and error, and per-service backend health. */
  async status(): Promise<ControllerStatus> {
    let proc: ProcTable | null = null;
    // During a reload the master re-executes itself and its socket is briefly gone: retry for a second.
    for (let attempt = 0; attempt < 20 && proc === null && this.haproxy.running; attempt++) {
      try {
        proc = await this.haproxy.master.showProc();
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    let services: ServiceStatus[] = [];
    if (this.live) {
      const stats = await this.runtime.showStat().catch(() => []);
      const layout = this.layout;
      services = serviceStatuses(this.live, stats, (svc, b) => locateServer(layout, svc, b));
      this.metrics.updateBackends(services);
    }
    return {
      haproxy: {
        running: this.haproxy.running,
        masterPid: proc?.master.pid ?? null,
        workerPids: proc?.workers.map((w) => w.pid) ?? [],
        oldWorkerPids: proc?.oldWorkers.map((w) => w.pid) ?? [],
        reloads: proc?.master.reloads ?? null,
      },
      ...this.counters,
      lastReload: this.lastReload,
      lastError: this.lastError,
      pending: this.pending !== undefined || this.working,
      services,
    };
  }

  /** Resolves when the HAProxy master exits (for the CLI: a dead data path ends `lb run`). */
  haproxyExited(): Promise<number | null> {
    return this.haproxy.waitExit();
  }

  /** Stops applying changes and stops HAProxy. */
  async stop(graceMs = 3000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
    while (this.working) await new Promise((r) => setTimeout(r, 10));
    await this.haproxy.stop(graceMs);
    this.wakeIdle();
  }

  private schedule(delayMs: number): void {
    if (this.timer || this.working || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, delayMs);
  }

  private async drain(): Promise<void> {
    if (this.working || this.stopped) return;
    this.working = true;
    try {
      while (this.pending && !this.stopped) {
        const model = this.pending;
        const live = this.live;
        if (!live) break;
        const diff = diffModels(live, model);
        const reasons = this.forceReason ? [this.forceReason, ...diff.structural] : diff.structural;
        let plan: ReturnType<typeof planBackendChanges> | undefined;
        if (reasons.length === 0 && diff.backendChanges.length > 0) {
          plan = planBackendChanges(this.layout, diff.backendChanges, model);
          if (!plan.ok) reasons.push(plan.reason);
        }
        if (reasons.length > 0) {
          const wait = this.lastReloadAt + this.debounceMs - Date.now();
          if (wait > 0) {
            // The newest model is picked up when the window closes.
            this.working = false;
            this.schedule(wait);
            return;
          }
          this.pending = undefined;
          this.forceReason = undefined;
          await this.reloadTo(model, reasons);
        } else {
          this.pending = undefined;
          const failure = await this.applyRuntime(model, diff, plan);
          if (failure) {
            // Runtime state is now uncertain: a reload makes HAProxy match the model again.
            this.forceReason = failure;
            if (!this.pending) this.pending = model;
          }
        }
      }
    } finally {
      this.working = false;
      if (this.pending && !this.timer && !this.stopped) this.schedule(0);
      this.wakeIdle();
    }
  }

  private wakeIdle(): void {
    if (this.working || this.timer || (this.pending && !this.stopped)) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Renders `model` into a new certificate generation and a checked candidate file. Throws on failure. */
  private async prepareCandidate(model: LoadBalancerModel): Promise<{ text: string; certDir: string }> {
    const generation = ++this.generation;
    const certDir = join(this.options.stateDir, `certs-${generation}`);
    const paths = this.renderPaths(certDir);
    try {
      const text = this.renderer.render(model, paths);
      const files = this.renderer.files(model, paths);
      await mkdir(certDir, { recursive: true, mode: 0o700 });
      for (const f of files) await writeAtomic(f.path, f.contents, f.mode);
      await writeAtomic(this.paths.candidate, text);
      const check = await checkConfigFile(this.paths.candidate, { haproxyBin: this.options.haproxyBin });
      if (!check.valid) throw new CandidateError('haproxy -c rejected the candidate', check.errors);
      return { text, certDir };
    } catch (err) {
      await rm(certDir, { recursive: true, force: true });
      throw err;
    }
  }

  private renderPaths(certDir: string): RenderPaths {
    // No pidFile here: the master gets `-p` on its command line, and HAProxy refuses both.
    return { adminSocket: this.paths.adminSocket, certDir, serverStateFile: this.paths.serverState };
  }

  private commitLive(model: LoadBalancerModel, text: string, certDir: string): void {
    const previousCertDir = this.certDir;
    this.live = model;
    this.liveText = text;
    this.certDir = certDir;
    this.layout = layoutFromModel(model);
    // Workers hold certificates in memory; older generations' files are no longer referenced.
    if (previousCertDir && previousCertDir !== certDir) void rm(previousCertDir, { recursive: true, force: true });
  }

  private async reloadTo(model: LoadBalancerModel, reasons: string[]): Promise<void> {
    const reason = reasons.join('; ');
    let prepared: { text: string; certDir: string };
    try {
      prepared = await this.prepareCandidate(model);
    } catch (err) {
      this.metrics.invalidConfigs.inc();
      const details = err instanceof CandidateError ? err.details : [];
      this.recordError('render', `candidate not applied (${reason}): ${errorMessage(err)}`, details);
      return;
    }
    try {
      // Carry health and drain states over the reload (slot rows renamed to their backend's server).
      const rows = await this.runtime.showServersState();
      await writeAtomic(this.paths.serverState, serverStateFileFor(rows, this.layout, model));
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'could not save server states before reload');
      await writeAtomic(this.paths.serverState, '1\n');
    }
    await rename(this.paths.candidate, this.paths.config);
    try {
      const result = await this.haproxy.master.reload({
        logMark: () => this.haproxy.logMark(),
        logSince: (mark) => this.haproxy.logSince(mark),
      });
      this.commitLive(model, prepared.text, prepared.certDir);
      this.clearError('reload');
      this.lastReloadAt = Date.now();
      this.counters.reloads++;
      this.metrics.reloads.inc({ reason: reasons[0]?.replace(/^(service|backend) \S+ /, '$1 ') ?? 'unknown' });
      this.metrics.lastReloadTimestamp.set(this.lastReloadAt / 1000);
      this.lastReload = { at: new Date(this.lastReloadAt).toISOString(), reason, durationMs: result.durationMs };
      this.logger.info(
        { event: 'reload', reason, durationMs: result.durationMs, masterReloads: result.masterReloads, workers: result.workerPids },
        'haproxy reloaded',
      );
    } catch (err) {
      this.lastReloadAt = Date.now();
      this.counters.reloadFailures++;
      this.metrics.reloadFailures.inc();
      // Put the last good file back so that a later reload or restart does not pick up the failed one.
      await writeAtomic(this.paths.config, this.liveText);
      await rm(prepared.certDir, { recursive: true, force: true });
      const details = err instanceof ReloadError ? err.details : [];
      this.recordError('reload', `reload failed (${reason}): ${errorMessage(err)}`, details);
    }
  }

  /** Applies backend and certificate changes without a reload. Returns a reason to reload on failure. */
  private async applyRuntime(
    model: LoadBalancerModel,
    diff: ReturnType<typeof diffModels>,
    plan: ReturnType<typeof planBackendChanges> | undefined,
  ): Promise<string | undefined> {
    const paths = this.renderPaths(this.certDir);
    try {
      if (plan?.ok) {
        for (const op of plan.ops) {
          if (op.op === 'addr') await this.runtime.setServerAddr(op.backend, op.server, op.address, op.port);
          else await this.runtime.setServerState(op.backend, op.server, op.state);
        }
        this.layout = plan.layout;
        this.metrics.runtimeUpdates.inc({ kind: 'backends' }, diff.backendChanges.length);
      }
      if (diff.certificateChanges.length > 0 && this.live) {
        const before = new Map(this.renderer.files(this.live, paths).map((f) => [f.path, f.contents]));
        for (const file of this.renderer.files(model, paths)) {
          if (before.get(file.path) === file.contents) continue;
          await writeAtomic(file.path, file.contents, file.mode);
          await this.runtime.updateCertificate(file.path, file.contents);
          this.metrics.runtimeUpdates.inc({ kind: 'certificate' });
        }
      }
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'runtime update failed, falling back to a reload');
      return `runtime update failed: ${errorMessage(err)}`;
    }
    const changed = diff.backendChanges.length + diff.certificateChanges.length;
    this.live = model;
    // The sources produced a model that is now served: an earlier rejection no longer describes the present.
    this.clearError(changed === 0 ? 'unchanged model' : 'runtime update');
    if (changed === 0) return undefined;
    this.counters.runtimeUpdates++;
    // Rewrite the live file so that the next reload (or restart) keeps what the runtime API just did.
    try {
      const text = this.renderer.render(model, paths);
      await writeAtomic(this.paths.candidate, text);
      const check = await checkConfigFile(this.paths.candidate, { haproxyBin: this.options.haproxyBin });
      if (!check.valid) throw new CandidateError('haproxy -c rejected the rewritten file', check.errors);
      await rename(this.paths.candidate, this.paths.config);
      this.liveText = text;
    } catch (err) {
      const details = err instanceof CandidateError ? err.details : [];
      this.recordError('render', `runtime changes applied but the config file was not rewritten: ${errorMessage(err)}`, details);
    }
    this.logger.info(
      {
        event: 'runtime-update',
        backends: describeBackendChanges(diff.backendChanges),
        certificates: diff.certificateChanges.map((c) => c.name),
      },
      'applied without reload',
    );
    return undefined;
  }

  /** Forgets the last error once a model from the sources is served again (it stays in the log). */
  private clearError(appliedBy: string): void {
    if (this.lastError === null) return;
    this.logger.info({ event: 'error-cleared', previous: this.lastError.message, appliedBy }, 'the sources are valid again');
    this.lastError = null;
  }

  private recordError(source: string, message: string, details: string[]): void {
    this.lastError = { at: new Date().toISOString(), source, message, details };
    this.logger.error({ event: 'error', source, details }, message);
  }
}

/** A candidate configuration that `haproxy -c` (or the renderer) refused. */
class CandidateError extends Error {
  constructor(
    message: string,
    readonly details: string[],
  ) {
    super(details.length > 0 ? `${message}: ${details.join('; ')}` : message);
    this.name = 'CandidateError';
  }
}
