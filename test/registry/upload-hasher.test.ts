import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { resumeUploadHash, wholeBlobHash } from '../../src/registry/upload-hasher.js';

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

describe('upload hashes', () => {
  it('a resumable hash saved and loaded between chunks of every size gives the native digest', async () => {
    // Pieces around the staging size (256 KiB) and SHA-256's 64-byte block, in chunks as requests bring them.
    const sizes = [0, 1, 63, 64, 65, 4096, 262_143, 262_144, 262_145, 700_001, 17];
    const chunks = sizes.map((size) => [randomBytes(size), randomBytes(Math.floor(size / 3))]);
    const all = Buffer.concat(chunks.flat());
    let upload = { id: 'u', size: 0, hashState: null as Uint8Array | null };
    for (const pieces of chunks) {
      const hash = await resumeUploadHash(upload);
      for (const piece of pieces) hash.update(piece);
      const size = upload.size + pieces.reduce((sum, piece) => sum + piece.length, 0);
      // Copied, as the database hands back its own bytes.
      upload = { id: 'u', size, hashState: Uint8Array.from(hash.state() ?? []) };
    }
    assert.equal((await resumeUploadHash(upload)).digest(), sha256(all));
  });

  it('the whole-blob hash is native and keeps no state', () => {
    const data = randomBytes(100_000);
    const hash = wholeBlobHash();
    hash.update(data.subarray(0, 10));
    hash.update(data.subarray(10));
    assert.equal(hash.state(), null);
    assert.equal(hash.digest(), sha256(data));
  });

  it('refuses to continue a non-empty upload without a usable state', async () => {
    await assert.rejects(resumeUploadHash({ id: 'u', size: 10, hashState: null }), { name: 'RegistryError', code: 'BLOB_UPLOAD_INVALID' });
    await assert.rejects(resumeUploadHash({ id: 'u', size: 10, hashState: Uint8Array.of(1, 2, 3) }), { name: 'RegistryError', code: 'BLOB_UPLOAD_INVALID' });
    const fresh = await resumeUploadHash({ id: 'u', size: 0, hashState: null });
    assert.equal(fresh.digest(), sha256(Buffer.alloc(0)));
  });
});
