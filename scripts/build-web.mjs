// Builds the web UI (web/) into dist/web: type-checks it with its own tsconfig (DOM, JSX), bundles it with
// Vite (content-hashed files under assets/, no inline script so the server's CSP can forbid it), and writes
// a .gz next to each text file so the server sends compressed bytes without compressing per request.
// Run by `npm run build` and by `prepare` (so `npm ci` and `npm install -g .` ship the UI); no CDN.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const webDir = join(root, 'web');
const outDir = join(root, 'dist', 'web');
const require = createRequire(import.meta.url);

let tsc;
let vite;
try {
  tsc = require.resolve('typescript/bin/tsc');
  vite = await import('vite');
} catch {
  process.stderr.write('quayside: the web UI needs its build tools (typescript, vite): run `npm ci` in this checkout first\n');
  process.exit(1);
}

const checked = spawnSync(process.execPath, [tsc, '-p', join(webDir, 'tsconfig.json')], { stdio: 'inherit' });
if (checked.status !== 0) {
  process.stderr.write('quayside: the web UI (web/) does not type-check; see the errors above\n');
  process.exit(checked.status ?? 1);
}

rmSync(outDir, { recursive: true, force: true });
try {
  await vite.build({
    root: webDir,
    configFile: false,
    logLevel: 'warn',
    base: '/',
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    build: {
      outDir,
      emptyOutDir: true,
      assetsDir: 'assets',
      // The polyfill is an inline script; every browser the UI supports preloads modules natively.
      modulePreload: { polyfill: false },
      // Small assets inlined as data: URLs would need a looser CSP for fonts and images; keep them files.
      assetsInlineLimit: 0,
      sourcemap: false,
      target: 'es2022',
      reportCompressedSize: false,
    },
  });
} catch (error) {
  process.stderr.write(`quayside: the web UI build failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

const COMPRESSIBLE = /\.(html|js|css|svg|json)$/;
let files = 0;
let rawBytes = 0;
let gzipBytes = 0;
function compress(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      compress(path);
      continue;
    }
    if (!COMPRESSIBLE.test(name)) continue;
    const body = readFileSync(path);
    const gzip = gzipSync(body, { level: constants.Z_BEST_COMPRESSION });
    writeFileSync(`${path}.gz`, gzip);
    files += 1;
    rawBytes += body.length;
    gzipBytes += gzip.length;
  }
}
compress(outDir);
process.stdout.write(`web UI: ${files} files in dist/web, ${(rawBytes / 1024).toFixed(1)} KiB (${(gzipBytes / 1024).toFixed(1)} KiB gzip)\n`);
