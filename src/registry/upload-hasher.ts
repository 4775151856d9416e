import { createHash } from 'node:crypto';
import { createSHA256 } from 'hash-wasm';
import { RegistryError } from './errors.js';

/*
 * Digest while streaming, across chunks and instances.
 *
 * The sha256 of an upload is computed as its bytes pass from the request into storage (a tap in the
 * pipeline, see body.ts), so a commit never re-reads bytes. An upload is a database row plus a temporary
 * object, and its next chunk may land on any instance (or worker process): so the hash state after each
 * chunk is serialized (hash-wasm's save(), about 120 bytes) and written with the row by the same
 * compare-and-set that advances its size (UploadIndex.advanceUpload). Whoever takes the next chunk loads
 * that state and continues: O(chunk) work, and nothing is read back from storage. A crash between the
 * append and the compare-and-set leaves the row (size and state) as it was; the bytes beyond its size are
 * cut off before the next chunk (uploads.ts reconcileUpload), so the state always matches the object.
 *
 * hash-wasm (WebAssembly) hashes at about a sixth of the speed of Node's native createHash (bench/README.md,
 * "Upload hash"), whose state cannot be serialized. The native hash is therefore used where no state needs
 * to survive the request: a body that is the whole blob (POST ?digest=, or a PUT with a body on an empty
 * upload). Its row then keeps no state; should the commit of such a PUT fail, a retry without a body is
 * told to restart the upload, which is what clients do after a failed PUT anyway.
 */

/** What the body meter feeds (body.ts). */
export interface StreamingHash {
  update(chunk: Uint8Array): void;
}

/** The sha256 of an upload's bytes so far. */
export interface UploadDigest extends StreamingHash {
  /** The state to store with the row after these bytes; null for a hash that cannot be resumed. */
  state(): Uint8Array | null;
  /** `sha256:<hex>` of every byte so far; the hash is finished afterwards. */
  digest(): string;
}

const RESTART = 'upload data in storage does not match the recorded upload state; restart the upload';

/** The native hash for a body that is the whole blob: fast, not resumable. */
export function wholeBlobHash(): UploadDigest {
  const hash = createHash('sha256');
  return {
    update: (chunk) => {
      hash.update(chunk);
    },
    state: () => null,
    digest: () => `sha256:${hash.digest('hex')}`,
  };
}

/**
 * The hash of an upload, continued from the state its row holds: a fresh one when the upload is empty, else
 * the state after exactly `size` bytes. BLOB_UPLOAD_INVALID when a non-empty upload has no usable state (its
 * row came from a version that kept none, or from a whole-blob PUT whose commit failed).
 */
export async function resumeUploadHash(upload: { id: string; size: number; hashState: Uint8Array | null }): Promise<UploadDigest> {
  const hasher = await createSHA256();
  if (upload.hashState === null) {
    if (upload.size > 0) throw new RegistryError('BLOB_UPLOAD_INVALID', RESTART, { uuid: upload.id, reason: 'no digest state recorded' });
    hasher.init();
  } else {
    try {
      hasher.load(upload.hashState);
    } catch {
      // A state saved by another hash-wasm build (its load() checks) or damaged in the database.
      throw new RegistryError('BLOB_UPLOAD_INVALID', RESTART, { uuid: upload.id, reason: 'unusable digest state' });
    }
  }
  // hash-wasm pays a fixed cost per update() (a copy into WebAssembly memory and a call): request bodies arrive
  // in pieces of a few KiB to 64 KiB, so small pieces are gathered first (bench/README.md, "Upload hash").
  const staging = Buffer.allocUnsafe(STAGING_BYTES);
  let staged = 0;
  const flush = () => {
    if (staged > 0) hasher.update(staging.subarray(0, staged));
    staged = 0;
  };
  return {
    update: (chunk) => {
      if (staged + chunk.length > STAGING_BYTES) flush();
      if (chunk.length >= STAGING_BYTES) {
        hasher.update(chunk);
        return;
      }
      staging.set(chunk, staged);
      staged += chunk.length;
    },
    state: () => {
      flush();
      return hasher.save();
    },
    digest: () => {
      flush();
      return `sha256:${hasher.digest('hex')}`;
    },
  };
}

/** Bytes gathered before one hash-wasm update. */
const STAGING_BYTES = 256 * 1024;
