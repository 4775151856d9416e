import { createRequire } from 'node:module';
import { nativeAddonPath } from '../native/addon-path.js';

/*
 * A SHA-256 whose state can be saved after any byte and continued by another process: the native addon in
 * native/resumable_sha256.c (Node's own OpenSSL, so it hashes as fast as createHash). Its saved state is a
 * portable format of its own, documented in that file: version byte 1, the eight chaining words, the byte
 * count, the pending bytes of the last incomplete block and an 8-byte check; 49 to 112 bytes. A state saved
 * by one instance (any build, any CPU) loads in any other.
 *
 * The addon is built by `npm ci` / `npm install` (package.json "install": native/build.mjs, node-gyp) or
 * `npm run build:native`, into build/Release/ at the root of the checkout.
 */

/** A saved state that cannot be continued: damaged, truncated, or of another format version. */
export class HashStateError extends Error {
  override name = 'HashStateError';
}

/** The addon's class (native/resumable_sha256.c). */
interface NativeSha256 {
  update(bytes: Uint8Array): void;
  save(): Buffer;
  digest(): Buffer;
}

interface NativeAddon {
  Sha256: new (state?: Uint8Array) => NativeSha256;
  STATE_VERSION: number;
}

function loadAddon(): NativeAddon {
  const file = nativeAddonPath('resumable_sha256');
  let addon: unknown;
  try {
    addon = createRequire(import.meta.url)(file);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new Error(`the native SHA-256 addon (${file}) cannot be loaded (${reason}); build it with \`npm run build:native\` (npm ci does it too)`);
  }
  const candidate = addon as Partial<NativeAddon>;
  if (typeof candidate.Sha256 !== 'function' || candidate.STATE_VERSION !== 1) {
    throw new Error(`${file} is not the SHA-256 addon of this version; rebuild it with \`npm run build:native\``);
  }
  return candidate as NativeAddon;
}

// Loaded with the module, like any import: a server without its addon stops at startup, not at the first upload.
const addon = loadAddon();

/** An incremental SHA-256 that can be saved and continued anywhere. */
export class ResumableSha256 {
  readonly #hash: NativeSha256;

  private constructor(hash: NativeSha256) {
    this.#hash = hash;
  }

  /** A hash of no bytes yet. */
  static fresh(): ResumableSha256 {
    return new ResumableSha256(new addon.Sha256());
  }

  /** The hash continued from `state` (from save()); HashStateError when the state is unusable. */
  static load(state: Uint8Array): ResumableSha256 {
    try {
      return new ResumableSha256(new addon.Sha256(state));
    } catch (error) {
      if (error instanceof Error && (error as NodeJS.ErrnoException).code === 'ERR_SHA256_STATE') throw new HashStateError(error.message);
      throw error;
    }
  }

  update(bytes: Uint8Array): void {
    this.#hash.update(bytes);
  }

  /** The portable state after every byte so far; the hash goes on. */
  save(): Buffer {
    return this.#hash.save();
  }

  /** The 32-byte digest; the hash is finished afterwards (update, save and digest then throw). */
  digest(): Buffer {
    return this.#hash.digest();
  }
}
