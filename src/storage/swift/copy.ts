import { randomBytes } from 'node:crypto';
import { BlobNotFoundError } from '../blob-store.js';
import type { SwiftCall, SwiftClient } from './client.js';
import { drain, header, readText, type HttpResponse } from './http.js';

/**
 * Server-side copy of a committed blob between two Swift stores of the same cluster and account (two
 * containers, or two storage paths of one): the proxy copies, no byte passes through Quayside.
 *
 * A plain object is one PUT with X-Copy-From. An SLO manifest is NOT copied as a manifest
 * (`?multipart-manifest=get` on the source would give a second manifest naming the source's segments, and
 * the source location's garbage collection, which deletes a blob with its segments, would then break the
 * copy); nor as its concatenated content (Swift's copy of an SLO without that query assembles one plain
 * object, refused above max_file_size, 5 GiB). Instead every segment is copied server-side into the target's
 * own `segments/replica-<id>/` and a new manifest (nested as needed) names those, so each location owns its
 * bytes. Anything else (ranged or foreign-container segments, a refused read) resolves false: the caller
 * streams.
 */

/** The source end: the client and the blob's object name. */
export interface SwiftCopySource {
  readonly client: SwiftClient;
  readonly object: string;
}

/** The target end: what of the target store the copy needs. */
export interface SwiftCopyTarget {
  readonly client: SwiftClient;
  readonly object: string;
  /** Where this copy's segments go (unique per copy, ends with '/'). */
  readonly segmentPrefix: string;
  /** A write that creates the container on a fresh deployment. */
  write(call: SwiftCall): Promise<HttpResponse>;
  /** Writes an SLO manifest over `segments` at `blob`, nesting under `segmentPrefix` when needed. */
  putManifest(segmentPrefix: string, blob: string, segments: readonly { name: string; bytes: number }[]): Promise<void>;
  deleteObjects(names: string[]): Promise<void>;
  /** The fault for a status the copy cannot go on with. */
  fail(response: HttpResponse, what: string, text: string): never;
}

/** One leaf of a (possibly nested) manifest: an object in the source container. */
interface Leaf {
  object: string;
  bytes: number;
}

interface ManifestEntry {
  name?: unknown;
  bytes?: unknown;
  sub_slo?: unknown;
  range?: unknown;
}

/** Segment copies in flight at once. */
const COPY_CONCURRENCY = 4;

/** A name for this copy's segment folder: the digest's start and a random part (two copies never collide). */
export function replicaSegmentFolder(digest: string): string {
  const hex = digest.split(':')[1] ?? '';
  return `replica-${hex.slice(0, 16)}-${randomBytes(6).toString('hex')}`;
}

function copyFromHeader(container: string, object: string): string {
  return `/${[container, ...object.split('/')].map(encodeURIComponent).join('/')}`;
}

/** Resolves true once the target holds the blob, false when this pair cannot copy server-side. */
export async function copySwiftBlob(source: SwiftCopySource, target: SwiftCopyTarget, digest: string): Promise<boolean> {
  const [from, to] = await Promise.all([source.client.session(), target.client.session()]);
  // One account URL = one cluster and one account: the target's token may read the source container.
  if (from.storageUrl !== to.storageUrl) return false;
  const head = await source.client.call({ method: 'HEAD', object: source.object, query: { 'multipart-manifest': 'get' }, idempotent: true });
  await drain(head.body);
  if (head.status === 404) throw new BlobNotFoundError(digest);
  if (head.status === 401 || head.status === 403) return false;
  if (head.status !== 200) target.fail(head, 'HEAD source blob', '');
  const isSlo = (header(head.headers, 'x-static-large-object') ?? '').toLowerCase() === 'true';
  if (!isSlo) return copyObject(source.client.container, source.object, target, target.object, digest);
  const leaves = await manifestLeaves(source, source.object, 0);
  if (leaves === undefined) return false;
  return copySegmented(source.client.container, leaves, target, digest);
}

/** PUT with X-Copy-From; false when the copy is refused (permissions). */
async function copyObject(container: string, object: string, target: SwiftCopyTarget, name: string, digest: string): Promise<boolean> {
  const response = await target.write({ method: 'PUT', object: name, headers: { 'x-copy-from': copyFromHeader(container, object) }, body: '', idempotent: true });
  const text = await readText(response.body);
  if (response.status === 201) return true;
  if (response.status === 401 || response.status === 403) return false;
  if (response.status === 404) throw new BlobNotFoundError(digest);
  return target.fail(response, 'COPY object', text);
}

/** The manifest's leaves in order, or undefined when it has anything a plain re-manifest cannot express. */
async function manifestLeaves(source: SwiftCopySource, object: string, depth: number): Promise<Leaf[] | undefined> {
  // Swift nests at most 10 levels (max_manifest_depth); more is not a manifest this store wrote.
  if (depth > 10) return undefined;
  const response = await source.client.call({ method: 'GET', object, query: { 'multipart-manifest': 'get' }, idempotent: true });
  const text = await readText(response.body, 64 << 20);
  if (response.status === 401 || response.status === 403) return undefined;
  if (response.status !== 200) throw new Error(`GET ${object}?multipart-manifest=get answered ${response.status}`);
  const entries = JSON.parse(text) as ManifestEntry[];
  const prefix = `/${source.client.container}/`;
  const leaves: Leaf[] = [];
  for (const entry of entries) {
    if (typeof entry.name !== 'string' || typeof entry.bytes !== 'number' || entry.range !== undefined) return undefined;
    if (!entry.name.startsWith(prefix)) return undefined;
    const name = entry.name.slice(prefix.length);
    if (entry.sub_slo === true) {
      const nested = await manifestLeaves(source, name, depth + 1);
      if (nested === undefined) return undefined;
      leaves.push(...nested);
    } else {
      leaves.push({ object: name, bytes: entry.bytes });
    }
  }
  return leaves;
}

/** Copies every leaf into the target's segment folder, then writes the target's own manifest over them. */
async function copySegmented(container: string, leaves: readonly Leaf[], target: SwiftCopyTarget, digest: string): Promise<boolean> {
  const copied: string[] = [];
  const planned: { name: string; bytes: number; from: string }[] = [];
  let offset = 0;
  for (const leaf of leaves) {
    planned.push({ name: `${target.segmentPrefix}${String(offset).padStart(16, '0')}`, bytes: leaf.bytes, from: leaf.object });
    offset += leaf.bytes;
  }
  let refused = false;
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < planned.length && !refused) {
        const segment = planned[next] as (typeof planned)[number];
        next += 1;
        if (await copyObject(container, segment.from, target, segment.name, digest)) copied.push(segment.name);
        else refused = true;
      }
    };
    await Promise.all(Array.from({ length: Math.min(COPY_CONCURRENCY, planned.length) }, worker));
    if (refused) {
      await target.deleteObjects(copied);
      return false;
    }
    await target.putManifest(target.segmentPrefix, target.object, planned);
    return true;
  } catch (error) {
    // Nothing of a failed copy stays behind (a process killed here leaks segments no manifest names).
    await target.deleteObjects(copied).catch(() => undefined);
    throw error;
  }
}
