// Real server processes for the e2e suite and the benchmarks: start, wait for the ready line, capture
// output, stop. Every child is also killed when this process exits, so a crashed test leaves no server behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, found from this file's place in either test/helpers/ or dist/test/helpers/. */
export const REPO_ROOT = findRepoRoot(fileURLToPath(new URL('.', import.meta.url)));

function findRepoRoot(start: string): string {
  let dir = start;
  for (let i = 0; i < 6; i += 1) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin', 'quayside.js'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error(`cannot find the quayside repository root above ${start}`);
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) signalGroup(child, 'SIGKILL');
});

/** Kills `child`'s process group if the test process exits while it still runs (a failed test leaks nothing). */
export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
}

/** Signals the child's whole process group (it leads one), so helpers it started go too. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** The absolute path of a command on PATH; throws a clear error naming the missing tool otherwise. */
export function requireCommand(name: string, hint = `install the Debian package that ships ${name}`): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`required tool "${name}" is not on PATH (${hint}); this test needs it and does not skip`);
}

/** A TCP port that was free a moment ago (listen on port 0, read it, close). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export interface StartOptions {
  command: string;
  args: string[];
  /** Matched against each line of stdout and stderr; the first match makes the process ready. */
  ready: RegExp;
  readyTimeoutMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Send stdout and stderr straight to this file instead of through a pipe (the benchmarks use it so that a
   * server's request log costs neither server nor client CPU in this process); lines are then read back from it.
   */
  outputFile?: string;
  /** Keep at most this many output lines in memory (oldest dropped). */
  maxLines?: number;
}

/** A started child process with its captured output. */
export interface ManagedProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** The line that matched `ready`, and its match. */
  readonly readyMatch: RegExpMatchArray;
  /** Captured stdout lines (newest last). */
  stdoutLines(): string[];
  /** Captured stderr lines (newest last). */
  stderrLines(): string[];
  /** Resolves with the first line (stdout or stderr) matching `pattern`, waiting for new output up to `timeoutMs`. */
  waitForLine(pattern: RegExp | ((line: string) => boolean), timeoutMs?: number): Promise<string>;
  /** True while the process has not exited. */
  running(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns a process and resolves once a line matches `ready`; rejects with its output if it exits or times out first. */
export async function startProcess(options: StartOptions): Promise<ManagedProcess> {
  const maxLines = options.maxLines ?? 50_000;
  const out: string[] = [];
  const err: string[] = [];
  const waiters = new Set<{ test: (line: string) => boolean; done: (line: string) => void; fail: (error: Error) => void }>();
  const outputFd = options.outputFile === undefined ? undefined : openSync(options.outputFile, 'a');

  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', outputFd ?? 'pipe', outputFd ?? 'pipe'],
    // Its own process group, so stop() also reaches anything it spawned (which would keep our pipes open).
    detached: true,
  });
  if (outputFd !== undefined) closeSync(outputFd);
  live.add(child);
  const exited = new Promise<void>((done) => {
    child.once('exit', () => {
      live.delete(child);
      done();
    });
  });
  child.once('error', () => live.delete(child));

  const onLine = (store: string[], line: string) => {
    store.push(line);
    if (store.length > maxLines) store.shift();
    for (const waiter of waiters) {
      if (waiter.test(line)) waiter.done(line);
    }
  };
  const attach = (stream: NodeJS.ReadableStream | null, store: string[]) => {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) onLine(store, line);
    });
    stream?.on('end', () => {
      if (partial !== '') onLine(store, partial);
      partial = '';
    });
  };
  attach(child.stdout, out);
  attach(child.stderr, err);

  // In file mode the lines are whatever the file holds now (read on demand; only used at startup and on failure).
  // A file already removed by the caller's cleanup (after the process exited) holds no lines.
  const fileLines = async (): Promise<string[]> => {
    if (options.outputFile === undefined) return [];
    try {
      return (await readFile(options.outputFile, 'utf8')).split('\n');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  };

  const describe = async () => {
    const head = `${options.command} ${options.args.join(' ')}`;
    if (options.outputFile !== undefined) {
      return `${head}\n--- output in ${options.outputFile} (last lines) ---\n${(await fileLines()).slice(-40).join('\n')}`;
    }
    return `${head}\n--- stdout (last lines) ---\n${out.slice(-30).join('\n')}\n--- stderr (last lines) ---\n${err.slice(-30).join('\n')}`;
  };

  const waitForLine = (pattern: RegExp | ((line: string) => boolean), timeoutMs = 10_000): Promise<string> => {
    const test = typeof pattern === 'function' ? pattern : (line: string) => pattern.test(line);
    const seen = [...out, ...err].find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolveLine, reject) => {
      let poll: NodeJS.Timeout | undefined;
      const settle = () => {
        clearTimeout(timer);
        clearInterval(poll);
        waiters.delete(waiter);
      };
      const waiter = {
        test,
        done: (line: string) => {
          settle();
          resolveLine(line);
        },
        fail: (error: Error) => {
          settle();
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        settle();
        void describe().then((text) => reject(new Error(`no output line matching ${String(pattern)} within ${timeoutMs} ms from ${text}`)));
      }, timeoutMs);
      waiters.add(waiter);
      if (options.outputFile !== undefined) {
        poll = setInterval(() => {
          void fileLines().then((lines) => {
            const line = lines.find(test);
            if (line !== undefined && waiters.has(waiter)) waiter.done(line);
          });
        }, 50);
      }
    });
  };

  const stop = async (graceMs = 5_000): Promise<void> => {
    // A child that never spawned (pid undefined) emits no 'exit' to wait for.
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      signalGroup(child, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
  };

  // Once the process is gone no line will come: waiters fail at once instead of at their timeout.
  const failWaiters = (error: Error) => {
    for (const waiter of [...waiters]) waiter.fail(error);
  };
  const spawnFailure = new Promise<never>((_, reject) => {
    child.once('error', (error) => {
      const failure = new Error(`cannot start ${options.command}: ${error.message}`);
      failWaiters(failure);
      reject(failure);
    });
    child.once('exit', (code, signal) => {
      // Give the pipes a moment to deliver the last lines, which usually say why.
      setTimeout(() => {
        void describe().then((text) => {
          const failure = new Error(`process exited (code ${code}, signal ${signal}) before the awaited output: ${text}`);
          failWaiters(failure);
          reject(failure);
        });
      }, 100);
    });
  });
  spawnFailure.catch(() => undefined);
  const readyLine = await Promise.race([waitForLine(options.ready, options.readyTimeoutMs ?? 30_000), spawnFailure]).catch(
    async (error: unknown) => {
      await stop(1_000);
      throw error;
    },
  );
  const readyMatch = readyLine.match(options.ready) ?? [readyLine];

  return {
    pid: child.pid ?? -1,
    child,
    readyMatch,
    stdoutLines: () => [...out],
    stderrLines: () => [...err],
    waitForLine,
    running: () => child.exitCode === null && child.signalCode === null,
    stop,
  };
}

/** A registry server process under test or under benchmark. */
export interface RegistryServer {
  readonly kind: 'quayside' | 'distribution';
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** host:port, as skopeo's docker:// references want it. */
  readonly hostPort: string;
  readonly port: number;
  readonly process: ManagedProcess;
  /** A user whose namespace the test may push to (quayside: made with `quayside user create`; distribution: none). */
  readonly credentials?: Credentials;
  /** Stops the process and removes its temporary directory (if this helper created it). */
  stop(): Promise<void>;
}

export interface Credentials {
  username: string;
  password: string;
}

/** The user startQuayside creates: owns the "e2e" namespace that the e2e tests push to. */
export const E2E_USER: Credentials = Object.freeze({ username: 'e2e', password: 'e2e-password-0123456789' });

/** The path of the compiled CLI entry point; throws a clear error if the build is missing. */
export function quaysideCli(): string {
  const main = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(main)) {
    throw new Error(`quayside is not built (missing ${main}): run "npx tsc -p tsconfig.json" in ${REPO_ROOT} first`);
  }
  return join(REPO_ROOT, 'bin', 'quayside.js');
}

export interface QuaysideOptions {
  /** Data directory; a fresh temporary one (removed on stop) when omitted. */
  dataDir?: string;
  /** A config.yaml path passed as --config. */
  config?: string;
  env?: NodeJS.ProcessEnv;
  outputFile?: string;
  maxLines?: number;
  /** Extra node flags (e.g. --max-old-space-size). */
  nodeArgs?: string[];
  /** Extra `serve` flags (e.g. --workers 2, --metrics-port 0). */
  serveArgs?: string[];
  /**
   * The user to create with `quayside user create` before the server starts (default E2E_USER); false when
   * it exists already (a second instance on a shared database) or the test makes its own accounts.
   */
  user?: Credentials | false;
  /** The CLI entry point to run (another build's bin/quayside.js, for A/B benchmarks); default this checkout's. */
  cli?: string;
}

/** Starts the built `quayside serve` on 127.0.0.1 with a kernel-chosen port and waits for its listening line. */
/** kill -9 of a server's process group, as a crash would; resolves once the process is gone. */
export async function killHard(server: RegistryServer): Promise<void> {
  const { child } = server.process;
  const exited = new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) done();
    else child.once('exit', () => done());
  });
  process.kill(-server.process.pid, 'SIGKILL');
  await exited;
}

export async function startQuayside(options: QuaysideOptions = {}): Promise<RegistryServer> {
  const cli = options.cli ?? quaysideCli();
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'quayside-e2e-')));
  const args = [...(options.nodeArgs ?? []), cli, 'serve', '--data-dir', dataDir, '--address', '127.0.0.1', '--port', '0', ...(options.serveArgs ?? [])];
  if (options.config) args.push('--config', options.config);
  const user = options.user ?? E2E_USER;
  let proc: ManagedProcess;
  try {
    if (user !== false) {
      const where = ['--data-dir', dataDir, '--init', ...(options.config ? ['--config', options.config] : [])];
      await runOk(process.execPath, [cli, 'user', 'create', user.username, '--password-stdin', ...where], {
        input: `${user.password}\n`,
        timeoutMs: 60_000,
      });
    }
    proc = await startProcess({
      command: process.execPath,
      args,
      ready: /listening on http:\/\/127\.0\.0\.1:(\d+)/,
      env: { ...process.env, ...options.env },
      outputFile: options.outputFile,
      maxLines: options.maxLines,
    });
  } catch (error) {
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const port = Number(proc.readyMatch[1]);
  return {
    kind: 'quayside',
    url: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    port,
    process: proc,
    credentials: user === false ? undefined : user,
    stop: async () => {
      await proc.stop();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface DistributionOptions {
  outputFile?: string;
  maxLines?: number;
  /** Log level of distribution itself (its access log is on regardless). */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /**
   * The storage driver's YAML lines under `storage:`, indented by two spaces (e.g. `  s3:` and its settings);
   * the filesystem driver in the temp dir when omitted.
   */
  storageDriver?: string[];
  /** Certificate and key files: distribution then terminates TLS itself (`http.tls`) and its url is https://. */
  tls?: { certificate: string; key: string };
  /** The process environment (default: this one's). */
  env?: NodeJS.ProcessEnv;
}

/** The version line of CNCF distribution's `docker-registry`, or a clear error when it is not installed. */
export function distributionVersion(): string {
  const bin = requireCommand('docker-registry', 'apt-get install docker-registry');
  return spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
}

/**
 * Starts CNCF distribution (`docker-registry serve`) configured as Debian ships it (filesystem storage, in-memory
 * blob descriptor cache, deletes enabled) but anonymous, in a fresh temp dir.
 */
export async function startDistribution(options: DistributionOptions = {}): Promise<RegistryServer> {
  const bin = requireCommand('docker-registry', 'apt-get install docker-registry');
  const root = await mkdtemp(join(tmpdir(), 'distribution-'));
  let lastError: unknown;
  // The port is picked free then handed over, so another process may take it in between: retry a few times.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    const config = join(root, 'config.yml');
    await writeFile(
      config,
      [
        'version: 0.1',
        'log:',
        `  level: ${options.logLevel ?? 'info'}`,
        // As Debian's /etc/docker/registry/config.yml ships it (minus htpasswd auth: pushes are anonymous here).
        'storage:',
        '  cache:',
        '    blobdescriptor: inmemory',
        ...(options.storageDriver ?? ['  filesystem:', `    rootdirectory: ${join(root, 'data')}`]),
        '  delete:',
        '    enabled: true',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        '  headers:',
        '    X-Content-Type-Options: [nosniff]',
        // A fixed secret silences the warning and makes upload state tokens stable across restarts.
        `  secret: quayside-bench-${port}`,
        ...(options.tls === undefined ? [] : ['  tls:', `    certificate: ${options.tls.certificate}`, `    key: ${options.tls.key}`]),
        '',
      ].join('\n'),
    );
    try {
      const proc = await startProcess({
        command: bin,
        args: ['serve', config],
        ready: /listening on 127\.0\.0\.1:\d+/,
        env: options.env,
        outputFile: options.outputFile,
        maxLines: options.maxLines,
      });
      return {
        kind: 'distribution',
        url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
        hostPort: `127.0.0.1:${port}`,
        port,
        process: proc,
        stop: async () => {
          await proc.stop();
          await rm(root, { recursive: true, force: true });
        },
      };
    } catch (error) {
      lastError = error;
    }
  }
  await rm(root, { recursive: true, force: true });
  throw lastError;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (no shell), capturing output; never throws on a non-zero exit. */
export async function run(
  command: string,
  args: string[],
  options: { cwd?: string; timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    live.add(child);
    if (options.input !== undefined) child.stdin?.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      live.delete(child);
      reject(new Error(`cannot run ${command}: ${error.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      live.delete(child);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/** Runs a command and throws (with its output) unless it exits 0; returns stdout. */
export async function runOk(command: string, args: string[], options: { cwd?: string; timeoutMs?: number; input?: string } = {}): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.code}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`);
  }
  return result.stdout;
}

/** Runs skopeo with a throwaway policy (accept anything) so no host policy.json is needed; throws unless it exits 0. */
export async function skopeo(args: string[], timeoutMs = 120_000): Promise<string> {
  const bin = requireCommand('skopeo', 'apt-get install skopeo');
  return runOk(bin, ['--insecure-policy', ...args], { timeoutMs });
}

/**
 * The registry the protocol-level e2e tests drive: the built `quayside serve`, or CNCF distribution when
 * QUAYSIDE_E2E_TARGET=distribution (used to check the suite itself against the reference implementation).
 */
export async function startRegistryUnderTest(options: QuaysideOptions = {}): Promise<RegistryServer> {
  const target = process.env.QUAYSIDE_E2E_TARGET ?? 'quayside';
  if (target === 'distribution') return startDistribution({});
  if (target !== 'quayside') throw new Error(`QUAYSIDE_E2E_TARGET must be quayside or distribution, not "${target}"`);
  return startQuayside(options);
}
