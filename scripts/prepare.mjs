// npm's `prepare` step (run by `npm ci`, `npm install` and `npm install -g .`): builds dist/ with tsc.
// A global install from a checkout without its dependencies would otherwise fail with "tsc: not found";
// this says what to do instead, in one line.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  process.stderr.write('quayside: this checkout has no dependencies installed: run `npm ci` in it first, then `npm install -g .`\n');
  process.exit(1);
}
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
