// npm's `prepare` step (run by `npm ci`, `npm install` and `npm install -g .`): builds dist/ with tsc, then
// the web UI into dist/web (scripts/build-web.mjs), so a fresh clone serves the UI with no extra step.
// A global install from a checkout without its dependencies would otherwise fail with "tsc: not found";
// this says what to do instead, in one line.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  process.stderr.write('quayside: this checkout has no dependencies installed: run `npm ci` in it first, then `npm install -g .`\n');
  process.exit(1);
}
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
const web = spawnSync(process.execPath, [fileURLToPath(new URL('./build-web.mjs', import.meta.url))], { stdio: 'inherit' });
process.exit(web.status ?? 1);
