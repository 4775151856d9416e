import assert from 'node:assert/strict';
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
