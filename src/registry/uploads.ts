import { randomUUID } from 'node:crypto';
import { parseDigest } from '../oci/digest.js';
import { repositoryNameProblem } from '../oci/names.js';
import type { RepositoryRecord, UploadRecord } from '../db/metadata.js';
import { UploadNotFoundError, UploadOffsetError } from '../storage/blob-store.js';
import { pushGraceMsOf, type RegistryDeps, type RouteContext, type RouteHandler } from './context.js';
import { RegistryError } from './errors.js';
import { declaredLength, hasBody, meterRequestBody, type BodyLimits } from './body.js';
import { parseUploadContentRange } from './range-headers.js';
import { queryOf } from './url.js';
import { resumeUploadHash, wholeBlobHash, type UploadDigest } from './upload-hasher.js';

/**
 * Blob uploads (OCI distribution v1.1 "pushing blobs"): POST starts a session, performs a
 * monolithic upload (?digest=) or mounts a blob from another repository (?mount=&from=); PATCH
 * appends a chunk; PUT ?digest= completes; GET reports progress; DELETE cancels. Upload state is
 * a database row (the size, advanced by compare-and-set) plus a temporary object in storage, so
 * any instance can take any request; the row also holds the digest state after its size (upload-hasher.ts), so
 * the instance taking a chunk continues the digest without reading the upload back. A blob becomes visible
 * only after its digest is verified.
 */

const INCONSISTENT_UPLOAD = 'upload data in storage does not match the recorded upload state; restart the upload';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function uploadLocation(name: string, id: string): string {
  return `/v2/${name}/blobs/uploads/${id}`;
}

function blobLocation(name: string, digest: string): string {
  return `/v2/${name}/blobs/${digest}`;
}

/** The Range header of an upload: inclusive offset of the last byte received (distribution writes 0-0 when empty). */
function rangeValue(size: number): string {
  return `0-${size > 0 ? size - 1 : 0}`;
}

function sessionHeaders(name: string, id: string, size: number): Record<string, string> {
  return { Location: uploadLocation(name, id), Range: rangeValue(size), 'Docker-Upload-UUID': id };
}

/** The ?digest= of a completing request; only sha256 is accepted for uploads. */
function uploadDigest(params: URLSearchParams): string {
  const values = params.getAll('digest');
  if (values.length === 0) throw new RegistryError('DIGEST_INVALID', 'the digest query parameter is required');
  if (values.length > 1) throw new RegistryError('DIGEST_INVALID', 'the digest query parameter is repeated');
  const value = values[0] as string;
  const parsed = parseDigest(value);
  if (parsed === undefined) {
    throw new RegistryError('DIGEST_INVALID', 'invalid digest', {
      digest: value.slice(0, 300),
      reason: 'expected sha256:<64 lowercase hex>',
    });
  }
  if (parsed.algorithm !== 'sha256') {
    throw new RegistryError('DIGEST_INVALID', 'only sha256 digests are supported for blob uploads', {
      digest: value.slice(0, 300),
    });
  }
  return parsed.digest;
}

/** Bytes a layer may still grow by, or undefined without a limit; a declared length beyond it fails now. */
function layerBudget(deps: RegistryDeps, offset: number, declaredEnd?: number): number | undefined {
  const max = deps.options.maxLayerBytes;
  if (max === undefined) return undefined;
  if (declaredEnd !== undefined && declaredEnd > max) throw new RegistryError('BLOB_TOO_LARGE', undefined, { maxBytes: max });
  return Math.max(0, max - offset);
}

/** The upload row of ctx.params.uuid in this repository, else BLOB_UPLOAD_UNKNOWN. */
async function loadUpload(ctx: RouteContext): Promise<{ repository: RepositoryRecord; upload: UploadRecord }> {
  const id = ctx.params.uuid ?? '';
  const unknown = () => new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid: id.slice(0, 300) });
  if (!UUID_RE.test(id)) throw unknown();
  const repository = await ctx.deps.metadata.repositories.getRepository(ctx.name);
  if (repository === undefined) throw unknown();
  const upload = await ctx.deps.metadata.uploads.getUpload(id);
  // An upload id of another repository is unknown here: ids must not leak across repositories.
  if (upload === undefined || upload.repositoryId !== repository.id) throw unknown();
  return { repository, upload };
}

/** The 416 for a chunk that does not continue the upload, carrying the true progress. */
async function rangeConflict(ctx: RouteContext, id: string, message: string, detail?: unknown): Promise<RegistryError> {
  const current = await ctx.deps.metadata.uploads.getUpload(id);
  if (current === undefined) return new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid: id });
  return new RegistryError('RANGE_INVALID', message, detail, sessionHeaders(ctx.name, id, current.size));
}

/**
 * The limits of the next chunk of `upload`, from its Content-Range (must start at the upload's size
 * and agree with Content-Length) and the layer size limit.
 */
async function chunkLimits(ctx: RouteContext, upload: UploadRecord): Promise<BodyLimits> {
  const raw = ctx.request.raw;
  const length = declaredLength(raw);
  const header = raw.headers['content-range'];
  if (header === undefined) {
    const maxBytes = layerBudget(ctx.deps, upload.size, length === undefined ? undefined : upload.size + length);
    return { maxBytes };
  }
  const range = parseUploadContentRange(header);
  if (range === undefined) {
    throw await rangeConflict(ctx, upload.id, 'malformed Content-Range; expected <start>-<end>', {
      contentRange: header.slice(0, 200),
    });
  }
  if (range.start !== upload.size) {
    throw await rangeConflict(ctx, upload.id, 'chunk does not start where the upload ends', {
      contentRange: header.slice(0, 200),
      expectedStart: upload.size,
    });
  }
  const rangeLength = range.end - range.start + 1;
  if (length !== undefined && length !== rangeLength) {
    throw await rangeConflict(ctx, upload.id, 'Content-Range and Content-Length disagree', {
      contentRange: header.slice(0, 200),
      contentLength: length,
    });
  }
  return { maxBytes: layerBudget(ctx.deps, upload.size, range.end + 1), exactBytes: rangeLength };
}

/** Streams the request body into the temporary object at `offset`, hashing it; resolves with the new size. */
async function appendBody(ctx: RouteContext, id: string, offset: number, hash: UploadDigest, limits: BodyLimits): Promise<number> {
  const body = meterRequestBody(ctx.request.raw, hash, limits);
  try {
    const newSize = await ctx.deps.blobs.appendUpload(id, offset, body.stream, body.signal);
    if (newSize !== offset + body.bytes()) {
      throw new Error(`storage reported size ${newSize} after appending ${body.bytes()} bytes at ${offset}`);
    }
    return newSize;
  } catch (error) {
    const reason = body.explain(error);
    if (reason instanceof UploadOffsetError) {
      throw await rangeConflict(ctx, id, 'upload data in storage moved on; resume from the reported range');
    }
    if (reason instanceof UploadNotFoundError) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid: id });
    throw reason;
  } finally {
    body.release();
  }
}

/**
 * Brings the temporary object back in line with the upload row before it is appended to or completed.
 * An instance killed mid-chunk leaves bytes beyond the recorded size (its compare-and-set never ran): they
 * are cut off, so the upload resumes from the recorded size, where the row's digest state belongs. Fewer
 * bytes than recorded cannot be repaired.
 * Resolves with 'missing' when the object is gone (a crash between its move to the blob's address and the
 * row's removal, or a purge).
 */
async function reconcileUpload(ctx: RouteContext, upload: UploadRecord): Promise<'ok' | 'missing'> {
  const { blobs } = ctx.deps;
  let stored: number;
  try {
    stored = await blobs.uploadSize(upload.id);
  } catch (error) {
    if (error instanceof UploadNotFoundError) return 'missing';
    throw error;
  }
  if (stored === upload.size) return 'ok';
  if (stored < upload.size) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', INCONSISTENT_UPLOAD, { recordedSize: upload.size, storedSize: stored });
  }
  try {
    await blobs.truncateUpload(upload.id, upload.size);
  } catch (error) {
    if (error instanceof UploadOffsetError) throw await rangeConflict(ctx, upload.id, 'another request is writing this upload; resume from the reported range');
    if (error instanceof UploadNotFoundError) return 'missing';
    throw error;
  }
  ctx.deps.log.warn({ upload: upload.id, recordedSize: upload.size, storedSize: stored }, 'upload: cut off bytes an interrupted chunk left beyond the recorded size');
  return 'ok';
}

function unknownUpload(id: string): RegistryError {
  return new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid: id });
}

/**
 * Appends the request body as the next chunk of a session upload and records it with its digest state;
 * returns the new size and the hash. `final` marks a PUT's body: on an empty upload it is the whole blob,
 * hashed natively (no state has to survive the request).
 */
async function appendChunk(ctx: RouteContext, upload: UploadRecord, final: boolean): Promise<{ size: number; hash: UploadDigest }> {
  const limits = await chunkLimits(ctx, upload);
  if ((await reconcileUpload(ctx, upload)) === 'missing') throw unknownUpload(upload.id);
  const hash = final && upload.size === 0 ? wholeBlobHash() : await resumeUploadHash(upload);
  const size = await appendBody(ctx, upload.id, upload.size, hash, limits);
  if (!(await ctx.deps.metadata.uploads.advanceUpload(upload.id, upload.size, size, hash.state()))) {
    throw await rangeConflict(ctx, upload.id, 'another request advanced this upload first');
  }
  return { size, hash };
}

/** Removes an upload everywhere: temporary object and row. */
async function discardUpload(deps: RegistryDeps, id: string): Promise<void> {
  await deps.blobs.abortUpload(id);
  await deps.metadata.uploads.deleteUpload(id);
}

/**
 * Moves a verified temporary object to its address and makes the blob visible in the repository. The blob row
 * is recorded (touched) before the object is checked: garbage collection deletes the object only while holding
 * that row, untouched for the grace period, so an object seen after the touch stays (docs/gc.md).
 */
async function publishBlob(deps: RegistryDeps, repositoryId: number, id: string, digest: string, size: number): Promise<void> {
  await deps.blobs.commitUpload(id, digest);
  await deps.metadata.blobs.recordBlob(digest, size);
  // A blob that already existed is kept by commitUpload; if its size is not the verified one, the
  // stored object cannot be these bytes (one digest, one size) and must not be linked. Missing means
  // garbage collection removed the existing object just before the touch.
  const stored = await deps.blobs.stat(digest);
  if (stored === undefined || stored.size !== size) {
    if (stored !== undefined) await deps.blobs.delete(digest);
    throw new RegistryError('BLOB_UPLOAD_INVALID', 'stored blob does not match the verified upload; push it again', {
      digest,
      verifiedSize: size,
      storedSize: stored?.size ?? null,
    });
  }
  await deps.metadata.blobs.linkBlob(repositoryId, digest);
}

function verifyDigest(hash: UploadDigest, expected: string, size: number): RegistryError | undefined {
  const computed = hash.digest();
  if (computed === expected) return undefined;
  return new RegistryError('DIGEST_INVALID', undefined, { expected, computed, size });
}

async function sendCreated(ctx: RouteContext, digest: string): Promise<void> {
  await ctx.reply
    .code(201)
    .headers({ Location: blobLocation(ctx.name, digest), 'Docker-Content-Digest': digest, 'Content-Length': '0' })
    .send();
}

/** POST ?mount=&from=: links a blob the source repository holds; false when it cannot (fall back to a session). */
async function tryMount(ctx: RouteContext, params: URLSearchParams): Promise<boolean> {
  const mount = params.get('mount');
  const from = params.get('from');
  // Mounting without `from` (automatic discovery) would reveal blobs of repositories the client may
  // not read; malformed values are treated like an impossible mount, as distribution does.
  if (mount === null || from === null) return false;
  const digest = parseDigest(mount);
  if (digest === undefined || repositoryNameProblem(from) !== undefined) return false;
  // The source must be readable with the same credentials, or a mount would copy another tenant's layer.
  if (!ctx.grant.allows(from, 'pull')) return false;
  const { metadata } = ctx.deps;
  const source = await metadata.repositories.getRepository(from);
  if (source === undefined) return false;
  // Held, so GC cannot unlink it from the source and remove the blob before the target's link exists.
  const blob = await metadata.blobs.holdLinkedBlob(source.id, digest.digest, pushGraceMsOf(ctx.deps.options));
  if (blob === undefined) return false;
  const target = await ctx.deps.access.repositoryForPush(ctx.grant, ctx.name);
  await metadata.blobs.linkBlob(target.id, blob.digest);
  await sendCreated(ctx, blob.digest);
  return true;
}

/** POST ?digest=: the whole blob in one request, verified before it becomes visible. */
async function monolithicUpload(ctx: RouteContext, digest: string): Promise<void> {
  const { deps } = ctx;
  const length = declaredLength(ctx.request.raw);
  const maxBytes = layerBudget(deps, 0, length);
  const repository = await deps.access.repositoryForPush(ctx.grant, ctx.name);
  // No upload row: a temporary object left by a crash here is an orphan the purge worker removes.
  const id = randomUUID();
  await deps.blobs.startUpload(id);
  try {
    const hash = wholeBlobHash();
    const size = await appendBody(ctx, id, 0, hash, { maxBytes });
    if (length !== undefined && size !== length) {
      throw new RegistryError('SIZE_INVALID', undefined, { contentLength: length, received: size });
    }
    const mismatch = verifyDigest(hash, digest, size);
    if (mismatch !== undefined) throw mismatch;
    await publishBlob(deps, repository.id, id, digest, size);
  } catch (error) {
    await deps.blobs.abortUpload(id).catch((cleanup: unknown) => {
      deps.log.warn({ err: cleanup, upload: id }, 'could not remove the temporary object of a failed upload');
    });
    throw error;
  }
  await sendCreated(ctx, digest);
}

/** POST /v2/<name>/blobs/uploads/: mount, monolithic upload, or a new upload session (202). */
export const startUpload: RouteHandler = async (ctx) => {
  const params = queryOf(ctx.request.url);
  if (params.has('mount') && (await tryMount(ctx, params))) return;
  // A failed mount that carries the blob itself (body and digest) is a monolithic upload.
  if (params.has('digest') && (!params.has('mount') || hasBody(ctx.request.raw))) {
    await monolithicUpload(ctx, uploadDigest(params));
    return;
  }
  if (hasBody(ctx.request.raw)) {
    throw new RegistryError(
      'BLOB_UPLOAD_INVALID',
      'a POST that starts an upload session carries no body; use ?digest= for a monolithic upload',
    );
  }
  const { deps } = ctx;
  const repository = await deps.access.repositoryForPush(ctx.grant, ctx.name);
  const id = randomUUID();
  await deps.metadata.uploads.createUpload(id, repository.id);
  try {
    await deps.blobs.startUpload(id);
  } catch (error) {
    await deps.metadata.uploads.deleteUpload(id);
    throw error;
  }
  await ctx.reply.code(202).headers({ ...sessionHeaders(ctx.name, id, 0), 'Content-Length': '0' }).send();
};

/** PATCH: appends a chunk (Content-Range 'a-b' must start at the current size; without it, streamed at the end). */
export const patchUpload: RouteHandler = async (ctx) => {
  const { upload } = await loadUpload(ctx);
  let size = upload.size;
  if (hasBody(ctx.request.raw)) size = (await appendChunk(ctx, upload, false)).size;
  await ctx.reply.code(202).headers({ ...sessionHeaders(ctx.name, upload.id, size), 'Content-Length': '0' }).send();
};

/** PUT ?digest=: appends an optional final chunk, verifies the digest, and publishes the blob (201). */
export const putUpload: RouteHandler = async (ctx) => {
  const digest = uploadDigest(queryOf(ctx.request.url));
  const { deps } = ctx;
  const { repository, upload } = await loadUpload(ctx);
  let size = upload.size;
  let hash: UploadDigest;
  if (hasBody(ctx.request.raw)) {
    ({ size, hash } = await appendChunk(ctx, upload, true));
  } else {
    if ((await reconcileUpload(ctx, upload)) === 'missing') {
      await completeMovedUpload(ctx, repository.id, upload, digest);
      return;
    }
    hash = await resumeUploadHash(upload);
  }
  // The hash covers `size` bytes; the object must hold exactly those, or the check below proves nothing.
  const stored = await deps.blobs.uploadSize(upload.id).catch((error: unknown) => {
    if (error instanceof UploadNotFoundError) throw unknownUpload(upload.id);
    throw error;
  });
  if (stored !== size) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', INCONSISTENT_UPLOAD, { recordedSize: size, storedSize: stored });
  }
  const mismatch = verifyDigest(hash, digest, size);
  if (mismatch !== undefined) {
    await discardUpload(deps, upload.id);
    throw mismatch;
  }
  try {
    await publishBlob(deps, repository.id, upload.id, digest, size);
  } catch (error) {
    if (error instanceof UploadNotFoundError) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid: upload.id });
    throw error;
  }
  await deps.metadata.uploads.deleteUpload(upload.id);
  await sendCreated(ctx, digest);
};

/**
 * PUT of an upload whose temporary object is gone. A crash between the move of the verified object to its
 * content address and the removal of the row leaves exactly that: the blob is in storage under the digest
 * the client names, with the recorded size (a blob only ever gets there after its digest was verified),
 * so the PUT completes the upload. Anything else is an unknown upload.
 */
async function completeMovedUpload(ctx: RouteContext, repositoryId: number, upload: UploadRecord, digest: string): Promise<void> {
  const { deps } = ctx;
  await deps.metadata.blobs.recordBlob(digest, upload.size);
  const stored = await deps.blobs.stat(digest);
  if (stored === undefined || stored.size !== upload.size) throw unknownUpload(upload.id);
  await deps.metadata.blobs.linkBlob(repositoryId, digest);
  await deps.metadata.uploads.deleteUpload(upload.id);
  await sendCreated(ctx, digest);
}

/** GET: the upload's progress (204 with Range). */
export const getUploadStatus: RouteHandler = async (ctx) => {
  const { upload } = await loadUpload(ctx);
  await ctx.reply.code(204).headers(sessionHeaders(ctx.name, upload.id, upload.size)).send();
};

/** DELETE: cancels the upload, removing its row and temporary object (204). */
export const cancelUpload: RouteHandler = async (ctx) => {
  const { upload } = await loadUpload(ctx);
  await discardUpload(ctx.deps, upload.id);
  await ctx.reply.code(204).send();
};
