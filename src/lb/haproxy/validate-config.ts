import { execFile } from 'node:child_process';

/** Outcome of `haproxy -c` on one configuration file. */
export interface ConfigCheckResult {
  valid: boolean;
  /** HAProxy's [ALERT] lines, without the "[ALERT] (pid) :" prefix. */
  errors: string[];
  /** HAProxy's [WARNING] lines, same form. */
  warnings: string[];
  /** Everything HAProxy printed, for logs. */
  output: string;
}

export interface ConfigCheckOptions {
  haproxyBin?: string;
  timeoutMs?: number;
}

/** Runs `haproxy -c -f <file>` on a candidate file and returns HAProxy's verdict and its error lines. */
export function checkConfigFile(configPath: string, options: ConfigCheckOptions = {}): Promise<ConfigCheckResult> {
  const bin = options.haproxyBin ?? 'haproxy';
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      ['-c', '-f', configPath],
      { timeout: options.timeoutMs ?? 15_000, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (err && typeof err.code === 'string') {
          // ENOENT and friends: HAProxy itself could not run, which is not a verdict on the file.
          reject(new Error(`cannot run ${bin}: ${err.code}`));
          return;
        }
        if (err && err.killed) {
          reject(new Error(`${bin} -c did not finish within ${options.timeoutMs ?? 15_000} ms`));
          return;
        }
        const parsed = parseCheckOutput(output);
        const valid = !err;
        if (!valid && parsed.errors.length === 0) {
          parsed.errors.push(output.trim() || `${bin} -c exited with code ${String(err?.code)}`);
        }
        resolve({ valid, ...parsed, output });
      },
    );
  });
}

/** Splits HAProxy's output into error and warning lines (pure; exported for tests). */
export function parseCheckOutput(output: string): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const line of output.split('\n')) {
    const m = /^\[(ALERT|WARNING)\]\s*(?:\(\d+\)\s*)?:\s*(.*)$/.exec(line.trim());
    if (!m) continue;
    const text = m[2] ?? '';
    if (m[1] === 'ALERT') errors.push(text);
    else warnings.push(text);
  }
  return { errors, warnings };
}
