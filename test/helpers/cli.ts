import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { quaysideCli, run, type RunResult } from './processes.js';

/** Runs the built CLI in `cwd` (a temp dir, so a default ./quayside-data never lands in the repository). */
export function runQuayside(cwd: string, ...args: string[]): Promise<RunResult> {
  return run(process.execPath, [quaysideCli(), ...args], { cwd, timeoutMs: 20_000 });
}

/** Asserts the project rule for bad input: the exit code, exactly one stderr line matching each pattern, no stack. */
export function assertOneLineFailure(result: RunResult, code: number | 'non-zero', ...patterns: RegExp[]): string {
  const detail = `exit ${result.code}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
  if (code === 'non-zero') assert.ok(result.code !== 0 && result.code !== null, detail);
  else assert.equal(result.code, code, detail);
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, `expected exactly one stderr line: ${detail}`);
  assert.ok(!result.stderr.includes('    at '), `stack trace on stderr: ${detail}`);
  for (const pattern of patterns) assert.match(lines[0]!, pattern, detail);
  return lines[0]!;
}

/** Runs the built CLI in `cwd` with `input` written to its stdin (then closed), e.g. for --password-stdin. */
export function runQuaysideWithInput(cwd: string, input: string, ...args: string[]): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [quaysideCli(), ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    // A CLI that exits before reading its stdin makes the write fail with EPIPE; its exit code tells the story.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run the quayside CLI: ${error.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}
