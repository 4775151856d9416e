import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { MissingReferenceError, type ManifestRecord, type RepositoryRecord } from '../db/metadata.js';
import { parseDigest, sha256Digest } from '../oci/digest.js';
import { isValidTag } from '../oci/names.js';
import type { RegistryDeps, RouteContext, RouteHandler } from './context.js';
import { RegistryError } from './errors.js';
import { queryOf } from './url.js';
import { auditRepositoryEvent } from './audit-events.js';
import { parseCheckedManifest } from './manifest-references.js';
import { readExpiryLabel } from './expiry-label.js';

/**
 * Manifests: GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>, where the router has already checked
 * that a digest reference is a valid digest and that a PUT's tag is a valid tag. A GET, HEAD or DELETE of a
 * reference that is no valid tag names no manifest: 404 MANIFEST_UNKNOWN. Manifest bytes are stored exactly
 * as sent.
 */

/** A reference the router accepted: digests contain a colon, tags never do. */
function isDigestReference(reference: string): boolean {
  return reference.includes(':');
}

async function requireRepository(deps: RegistryDeps, name: string): Promise<RepositoryRecord> {
  const repository = await deps.metadata.repositories.getRepository(name);
  if (repository === undefined) throw new RegistryError('NAME_UNKNOWN', undefined, { name });
  return repository;
}

/** MANIFEST_UNKNOWN for a reference that is neither a digest nor a valid tag (nothing can be stored under it). */
function requireNameableReference(reference: string): void {
  if (!isDigestReference(reference) && !isValidTag(reference)) {
    throw new RegistryError('MANIFEST_UNKNOWN', undefined, { reference: reference.slice(0, 300), reason: 'not a valid tag or digest' });
  }
}

/** The manifest a tag or digest names in the repository, or MANIFEST_UNKNOWN. */
async function resolveManifest(deps: RegistryDeps, repository: RepositoryRecord, reference: string): Promise<ManifestRecord> {
  requireNameableReference(reference);
  if (!isDigestReference(reference)) {
    const tagged = await deps.metadata.manifests.getTaggedManifest(repository.id, reference);
    if (tagged === undefined) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { tag: reference });
    return tagged;
  }
  const manifest = await deps.metadata.manifests.getManifest(repository.id, reference);
  if (manifest === undefined) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { reference });
  return manifest;
}

/** The media types an Accept header lists (q=0 entries excluded); empty when the client stated none. */
export function acceptedMediaTypes(accept: string | string[] | undefined): string[] {
  if (accept === undefined) return [];
  const joined = Array.isArray(accept) ? accept.join(',') : accept;
  const types: string[] = [];
  for (const entry of joined.split(',')) {
    const [type = '', ...params] = entry.split(';').map((part) => part.trim());
    if (type === '') continue;
    const q = params.find((p) => /^q\s*=/i.test(p));
    if (q !== undefined && Number(q.split('=')[1]) === 0) continue;
    types.push(type.toLowerCase());
  }
  return types;
}

/**
 * True when a manifest of `mediaType` may be served to a client sending this Accept header.
 * No Accept (or a wildcard) takes anything, as distribution does; a client that lists types gets only those.
 */
export function isAcceptable(accept: string | string[] | undefined, mediaType: string): boolean {
  const types = acceptedMediaTypes(accept);
  if (types.length === 0) return true;
  const wanted = mediaType.toLowerCase();
  return types.some((t) => t === '*/*' || t === wanted || (t.endsWith('/*') && wanted.startsWith(t.slice(0, -1))));
}

async function serveManifest(ctx: RouteContext, withBody: boolean): Promise<void> {
  const { deps, name, params, request, reply } = ctx;
  const reference = params.reference ?? '';
  const repository = await requireRepository(deps, name);
  const manifest = await resolveManifest(deps, repository, reference);
  if (!isAcceptable(request.headers.accept, manifest.mediaType)) {
    throw new RegistryError('MANIFEST_UNKNOWN', undefined, {
      reference,
      reason: `the manifest is ${manifest.mediaType}, which the Accept header does not list`,
    });
  }
  reply
    .code(200)
    .header('Content-Type', manifest.mediaType)
    .header('Docker-Content-Digest', manifest.digest)
    .header('Content-Length', String(manifest.bytes.length));
  await reply.send(withBody ? manifest.bytes : undefined);
  // A pull is a manifest fetched (as Quay counts them); HEADs are clients checking what they already have.
  if (withBody) {
    const byDigest = isDigestReference(reference);
    auditRepositoryEvent(ctx, 'pull_repo', byDigest ? { manifest_digest: manifest.digest } : { tag: reference, manifest_digest: manifest.digest });
    if (byDigest) deps.pulls?.digestPulled(manifest);
    else deps.pulls?.tagPulled(repository.id, reference, manifest);
  }
}

/** GET /v2/<name>/manifests/<reference>. */
export const getManifest: RouteHandler = (ctx) => serveManifest(ctx, true);

/** HEAD /v2/<name>/manifests/<reference>: headers only, Content-Length of the stored bytes. */
export const headManifest: RouteHandler = (ctx) => serveManifest(ctx, false);

function tooLarge(limit: number): RegistryError {
  return new RegistryError('MANIFEST_TOO_LARGE', undefined, { limit });
}

/**
 * Reads a manifest body, refusing as soon as it passes `limit` bytes (a declared Content-Length
 * over the limit is refused before reading). The rest of an oversized body is drained by Node.
 */
export async function readLimitedBody(request: FastifyRequest, limit: number): Promise<Buffer> {
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
  const stream: Readable = request.raw;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('aborted', onAborted);
      stream.off('close', onAborted);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        cleanup();
        // Keep the connection usable: discard what is still on the wire instead of destroying it.
        stream.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, total));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onAborted = () => {
      cleanup();
      reject(new RegistryError('MANIFEST_INVALID', 'request body aborted'));
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('aborted', onAborted);
    // A connection that closes before 'end' may emit neither 'aborted' nor 'error'.
    stream.on('close', onAborted);
  });
}

/** Every tag the PUT asks for: the reference when it is a tag, plus each `?tag=`; all validated first. */
function requestedTags(reference: string, url: string): string[] {
  const tags = new Set<string>();
  if (!isDigestReference(reference)) tags.add(reference);
  for (const tag of queryOf(url).getAll('tag')) {
    if (!isValidTag(tag)) {
      throw new RegistryError('MANIFEST_INVALID', 'invalid tag', {
        tag: tag.slice(0, 300),
        reason: 'tags match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}',
      });
    }
    tags.add(tag);
  }
  return [...tags];
}

/** The digest of the body; a PUT by digest must name exactly these bytes. */
function bodyDigest(reference: string, bytes: Buffer): string {
  const digest = sha256Digest(bytes);
  if (!isDigestReference(reference)) return digest;
  const parsed = parseDigest(reference);
  if (parsed?.algorithm !== 'sha256') {
    throw new RegistryError('DIGEST_INVALID', 'unsupported digest algorithm', {
      digest: reference,
      reason: 'manifests are addressed by sha256',
    });
  }
  if (parsed.digest !== digest) {
    throw new RegistryError('DIGEST_INVALID', undefined, { expected: reference, actual: digest });
  }
  return digest;
}

/** PUT /v2/<name>/manifests/<reference>[?tag=...]: validate, store byte for byte, tag. */
export const putManifest: RouteHandler = async (ctx) => {
  const { deps, name, params, request, reply } = ctx;
  const reference = params.reference ?? '';
  const tags = requestedTags(reference, request.url);
  const bytes = await readLimitedBody(request, deps.options.maxManifestBytes);
  const digest = bodyDigest(reference, bytes);
  const parsed = await parseCheckedManifest(deps, name, bytes, request.headers['content-type']);
  const repository = await deps.access.repositoryForPush(ctx.grant, name);
  const manifest = {
    digest,
    mediaType: parsed.mediaType,
    artifactType: parsed.artifactType,
    subjectDigest: parsed.subject?.digest ?? null,
    annotations: parsed.annotations,
    bytes,
    references: parsed.references,
    // Quay reads the label from the config blob when the manifest is pushed; every tag pointed at it expires.
    // (A manifest already stored keeps what its first push read: putManifest writes no row again.)
    expiresAfterS: parsed.kind === 'image' ? await readExpiryLabel(deps.blobs, parsed.config) : null,
  };
  try {
    await deps.metadata.manifests.putManifest(repository.id, manifest, tags);
  } catch (error) {
    // Garbage collection took a reference between the route's check and the commit.
    if (error instanceof MissingReferenceError) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', undefined, { digest: error.digest });
    throw error;
  }
  // Before the 201: a failure here fails the push, whose retry (PUT is idempotent) queues the copies again.
  await deps.replication?.blobsReferenced(repository.namespace, parsed.references.filter((r) => r.kind === 'blob').map((r) => r.digest));
  auditRepositoryEvent(ctx, 'push_repo', { manifest_digest: digest, tags, media_type: parsed.mediaType });

  reply
    .code(201)
    .header('Location', `/v2/${name}/manifests/${digest}`)
    .header('Docker-Content-Digest', digest)
    .header('Content-Length', '0');
  if (parsed.subject !== undefined && deps.options.referrersApi) reply.header('OCI-Subject', parsed.subject.digest);
  await reply.send();
};

/** DELETE by digest removes the manifest and ends its tags; DELETE by tag removes only the tag. Both 202. */
export const deleteManifest: RouteHandler = async (ctx) => {
  const { deps, name, params, reply } = ctx;
  const reference = params.reference ?? '';
  const repository = await requireRepository(deps, name);
  requireNameableReference(reference);
  const removed = isDigestReference(reference)
    ? await deps.metadata.manifests.deleteManifest(repository.id, reference)
    : await deps.metadata.tags.deleteTag(repository.id, reference);
  if (!removed) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { reference });
  if (isDigestReference(reference)) auditRepositoryEvent(ctx, 'delete_manifest', { manifest_digest: reference });
  else auditRepositoryEvent(ctx, 'delete_tag', { tag: reference });
  await reply.code(202).header('Content-Length', '0').send();
};
