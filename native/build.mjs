// Builds the native addons (binding.gyp -> build/Release/resumable_sha256.node and blob_sendfile.node) with
// npm's own node-gyp, then loads each once: the SHA-256 hashes 'abc', the sender says whether it is supported: run by `npm ci` / `npm install` (package.json "install") and
// `npm run build:native`. A machine without a C toolchain, or a node binary that does not export OpenSSL's
// SHA256_* symbols, then fails here with one line saying what is missing, instead of at the server's start.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fail = (message) => {
  process.stderr.write(`quayside: ${message}\n`);
  process.exit(1);
};

// npm names its bundled node-gyp in npm_config_node_gyp (and puts a node-gyp shim on PATH) for scripts.
const bundled = process.env.npm_config_node_gyp;
const [command, args] = bundled ? [process.execPath, [bundled]] : ['node-gyp', []];
const built = spawnSync(command, [...args, 'rebuild', '--loglevel=warn'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' && !bundled });
if (built.error) fail(`cannot run node-gyp (${built.error.message}); run this through npm: \`npm run build:native\``);
if (built.status !== 0) {
  fail('building the native addons failed (see above); it needs a C compiler, make and python3 (Debian: apt-get install build-essential python3)');
}

const file = join(root, 'build', 'Release', 'resumable_sha256.node');
try {
  const { Sha256 } = createRequire(import.meta.url)(file);
  const hash = new Sha256();
  hash.update(Buffer.from('abc'));
  const hex = hash.digest().toString('hex');
  if (hex !== 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad') fail(`${file} hashes 'abc' wrong (${hex})`);
} catch (error) {
  fail(`${file} was built but cannot be loaded: ${error instanceof Error ? error.message.split('\n')[0] : error}`);
}

const sender = join(root, 'build', 'Release', 'blob_sendfile.node');
try {
  const { send, supported } = createRequire(import.meta.url)(sender);
  if (typeof send !== 'function' || typeof supported !== 'boolean') fail(`${sender} is not the sendfile addon of this version`);
} catch (error) {
  fail(`${sender} was built but cannot be loaded: ${error instanceof Error ? error.message.split('\n')[0] : error}`);
}
