import type { BlobRecord } from '../db/metadata.js';
import { FileBody, TAIL_BYTES, zeroCopyTarget } from '../http/file-body.js';
import { BlobNotFoundError, type BlobFile, type ByteRange } from '../storage/blob-store.js';
import { pushGraceMsOf, type RouteContext, type RouteHandler } from './context.js';
import { RegistryError } from './errors.js';
import { auditRepositoryEvent } from './audit-events.js';
import { parseRangeHeader } from './range-headers.js';

/**
 * Blob GET, HEAD and DELETE. A repository sees a blob only through its own link row; the bytes
 * come from the content-addressed store and are streamed, never buffered, or, when the driver signs
 * URLs (S3 presigned, Swift temp URL) and FEATURE_PROXY_STORAGE is off, the client is redirected (307).
 * A blob in a local file, asked for over plain HTTP/1.1, is sent with sendfile(2) (src/http/file-body.ts).
 */

/** Blobs never change under their digest, so caches may keep them for a year. */
const CACHE_CONTROL = 'max-age=31536000';

/**
 * The blob as linked into ctx.name, else BLOB_UNKNOWN. A HEAD is how docker, podman and skopeo decide not to
 * upload a layer before pushing a manifest that needs it, so a HEAD's 200 holds the link from garbage
 * collection until that manifest can come (holdLinkedBlob); a GET only reads.
 */
async function linkedBlob(ctx: RouteContext, hold: boolean): Promise<BlobRecord> {
  const digest = ctx.params.digest ?? '';
  const unknown = () => new RegistryError('BLOB_UNKNOWN', undefined, { digest });
  const repository = await ctx.deps.metadata.repositories.getRepository(ctx.name);
  if (repository === undefined) throw unknown();
  const { blobs } = ctx.deps.metadata;
  const blob = hold ? await blobs.holdLinkedBlob(repository.id, digest, pushGraceMsOf(ctx.deps.options)) : await blobs.getLinkedBlob(repository.id, digest);
  if (blob === undefined) throw unknown();
  return blob;
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((candidate) => {
    const value = candidate.trim().replace(/^W\//, '');
    return value === '*' || value === etag;
  });
}

function payloadHeaders(size: number, length: number, range: ByteRange | undefined): Record<string, string> {
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(length) };
  if (range !== undefined) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
  return headers;
}

/** Linked in the database but missing in storage: reported as unknown, and why in the log. */
function missingFromStorage(ctx: RouteContext, digest: string): RegistryError {
  ctx.deps.log.error({ digest }, 'blob is linked but missing from storage');
  return new RegistryError('BLOB_UNKNOWN', undefined, { digest });
}

/** The blob's local file when its body can go out with sendfile; undefined: stream it. */
async function zeroCopyFile(ctx: RouteContext, digest: string): Promise<BlobFile | undefined> {
  const { openFile } = ctx.deps.blobs;
  if (openFile === undefined || zeroCopyTarget(ctx.request.raw, ctx.reply.raw) === undefined) return undefined;
  try {
    return await openFile.call(ctx.deps.blobs, digest);
  } catch (error) {
    if (error instanceof BlobNotFoundError) throw missingFromStorage(ctx, digest);
    throw error;
  }
}

/** Answers GET (withBody) or HEAD for a linked blob, honouring Range and If-None-Match. */
async function serveBlob(ctx: RouteContext, withBody: boolean): Promise<void> {
  const blob = await linkedBlob(ctx, !withBody);
  const { reply, request, deps } = ctx;
  const etag = `"${blob.digest}"`;
  reply.headers({
    'Docker-Content-Digest': blob.digest,
    ETag: etag,
    'Accept-Ranges': 'bytes',
    'Cache-Control': CACHE_CONTROL,
  });
  if (etagMatches(request.headers['if-none-match'], etag)) {
    await reply.code(304).send();
    return;
  }
  const range = parseRangeHeader(request.headers.range, blob.size);
  if (range === 'unsatisfiable') {
    throw new RegistryError('RANGE_INVALID', 'requested range not satisfiable', { size: blob.size }, {
      'Content-Range': `bytes */${blob.size}`,
    });
  }
  // HEAD answers from the database alone; a GET goes to the storage's own URL when the driver signs one,
  // unless FEATURE_PROXY_STORAGE says clients cannot reach the storage.
  if (withBody && deps.options.proxyStorage !== true && deps.blobs.redirectUrl !== undefined) {
    const url = await deps.blobs.redirectUrl(blob.digest);
    if (url !== undefined) {
      await reply.code(307).header('Location', url).send();
      return;
    }
  }
  const length = range === undefined ? blob.size : range.end - range.start + 1;
  reply.code(range === undefined ? 200 : 206);
  if (!withBody) {
    await reply.headers(payloadHeaders(blob.size, length, range)).send();
    return;
  }
  // A body no longer than the tail file-body.ts writes through Node anyway gains nothing from sendfile.
  const file = length > TAIL_BYTES ? await zeroCopyFile(ctx, blob.digest) : undefined;
  if (file !== undefined) {
    // Checked again now that the file is open: the client may have gone, or the socket changed hands.
    const target = zeroCopyTarget(request.raw, reply.raw);
    if (target !== undefined) {
      reply.headers(payloadHeaders(blob.size, length, range));
      await reply.send(new FileBody(target, file, range?.start ?? 0, length));
      return;
    }
    await file.handle.close();
  }
  // Stop reading storage as soon as the client goes away (Fastify also destroys the stream then).
  const controller = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) controller.abort();
  };
  reply.raw.once('close', onClose);
  let stream;
  try {
    // Ask for exactly the announced bytes, even for a whole blob: the stream then ends with its last
    // byte instead of after one more read to find the end of the file, and it can never send more
    // than the Content-Length this answer promises.
    const wanted = range ?? (blob.size > 0 ? { start: 0, end: blob.size - 1 } : undefined);
    stream = await deps.blobs.read(blob.digest, wanted, controller.signal);
  } catch (error) {
    reply.raw.off('close', onClose);
    if (error instanceof BlobNotFoundError) throw missingFromStorage(ctx, blob.digest);
    throw error;
  }
  // Set only now: an error answer must not inherit the blob's Content-Length.
  reply.headers(payloadHeaders(blob.size, length, range));
  await reply.send(stream);
}

/** GET /v2/<name>/blobs/<digest>: the bytes (200), a range of them (206), or 416. */
export const getBlob: RouteHandler = (ctx) => serveBlob(ctx, true);

/** HEAD /v2/<name>/blobs/<digest>: the GET's headers without the body. */
export const headBlob: RouteHandler = (ctx) => serveBlob(ctx, false);

/** DELETE /v2/<name>/blobs/<digest>: unlinks the blob from the repository (202); storage is left to GC. */
export const deleteBlob: RouteHandler = async (ctx) => {
  const digest = ctx.params.digest ?? '';
  const repository = await ctx.deps.metadata.repositories.getRepository(ctx.name);
  const removed = repository !== undefined && (await ctx.deps.metadata.blobs.unlinkBlob(repository.id, digest));
  if (!removed) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest });
  auditRepositoryEvent(ctx, 'delete_blob', { digest });
  await ctx.reply.code(202).header('Content-Length', '0').send();
};
