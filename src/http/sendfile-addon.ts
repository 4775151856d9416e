import { createRequire } from 'node:module';
import { nativeAddonPath } from '../native/addon-path.js';

/**
 * The zero-copy sender, native/blob_sendfile.c (sendfile(2) in the libuv threadpool, both descriptors
 * dup()ed at the call). Built with the SHA-256 addon by `npm run build:native`; loaded with the module, so a
 * server without it stops at startup with one line, like one without the SHA-256 addon.
 */
export interface SendfileAddon {
  /** false where sendfile(2) is not available (not Linux): bodies are then always streamed. */
  readonly supported: boolean;
  /**
   * Sends up to `length` bytes of the file from `offset`; resolves with how many went out (fewer when the
   * socket had no room once `budgetMs` had passed). Rejects with an errno-coded Error carrying `bytesSent`.
   */
  send(socketFd: number, fileFd: number, offset: number, length: number, budgetMs: number): Promise<number>;
}

function loadAddon(): SendfileAddon {
  const file = nativeAddonPath('blob_sendfile');
  let addon: unknown;
  try {
    addon = createRequire(import.meta.url)(file);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new Error(`the native sendfile addon (${file}) cannot be loaded (${reason}); build it with \`npm run build:native\` (npm ci does it too)`);
  }
  const candidate = addon as Partial<SendfileAddon>;
  if (typeof candidate.send !== 'function' || typeof candidate.supported !== 'boolean') {
    throw new Error(`${file} is not the sendfile addon of this version; rebuild it with \`npm run build:native\``);
  }
  return candidate as SendfileAddon;
}

export const sendfileAddon: SendfileAddon = loadAddon();

/** The bytes a sendfile error says went out before it (0 when it does not say). */
export function bytesSentBefore(error: unknown): number {
  const sent = (error as { bytesSent?: unknown } | undefined)?.bytesSent;
  return typeof sent === 'number' && sent > 0 ? sent : 0;
}
