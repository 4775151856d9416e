import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobNotFoundError, UploadNotFoundError, UploadOffsetError, type BlobStore, type ByteRange } from '../blob-store.js';
import { VERIFY_MARKER_CONTENT, VERIFY_MARKER_NAME } from '../driver.js';
import { blobRelativePath, checkUploadId } from '../local.js';
import type { SwiftClient, SwiftCall } from './client.js';
import { copySwiftBlob, replicaSegmentFolder } from './copy.js';
import { abortError, drain, header, readText, type HttpResponse } from './http.js';
import { SegmentSource } from './segments.js';
import { signTempUrl } from './temp-url.js';

/**
 * Blobs in one Swift container, under storage_path:
 *   sha256/<2 hex>/<hex>         a committed blob: a plain object (one segment) or an SLO manifest
 *   uploads/<id>                 an upload in progress (empty marker; its Last-Modified is the last append)
 *   segments/<id>/<offset:16>    the upload's bytes, named by their start offset, so that listing the prefix
 *                                gives the upload's size and order to any instance, with no database state
 *   segments/<id>/manifest-...   nested SLO manifests of a blob with more than maxManifestSegments segments
 * Committing writes an SLO manifest at the blob path (server-side; the segments stay where they are and
 * belong to the blob from then on) and removes the marker first, so the purge of stale uploads, which lists
 * markers only, never touches a committed blob's segments. Deleting a blob deletes its segments with it.
 */

export interface SwiftStoreTuning {
  /** Largest segment an append writes (a body of unknown length is cut at this size). */
  segmentSizeBytes: number;
  /** Swift's slo max_manifest_segments (1000 by default); more segments are joined by nested manifests. */
  maxManifestSegments: number;
  /** How long a redirect's temp URL is valid. */
  tempUrlTtlSeconds: number;
}

export const DEFAULT_SWIFT_TUNING: SwiftStoreTuning = {
  segmentSizeBytes: 256 * 1024 * 1024,
  maxManifestSegments: 1000,
  tempUrlTtlSeconds: 600,
};

interface SegmentEntry {
  name: string;
  start: number;
  bytes: number;
}

interface ListedObject {
  name: string;
  bytes: number;
  last_modified: string;
}

const SEGMENT_NAME_RE = /\/(\d{16})$/;
/** Deletes in flight at once when removing an upload's segments. */
const DELETE_CONCURRENCY = 8;

export class SwiftBlobStore implements BlobStore {
  readonly kind = 'swift';
  private readonly prefix: string;
  private readonly appending = new Set<string>();
  private containerReady = false;
  private manifestLimitLookup: Promise<number> | undefined;

  constructor(
    private readonly client: SwiftClient,
    storagePath: string,
    private readonly tuning: SwiftStoreTuning,
    private readonly tempUrlKey: string | undefined,
    private readonly now: () => number,
  ) {
    const trimmed = storagePath.replace(/^\/+|\/+$/g, '');
    this.prefix = trimmed === '' ? '' : `${trimmed}/`;
  }

  private blobName(digest: string): string {
    return `${this.prefix}${blobRelativePath(digest).split('\\').join('/')}`;
  }

  private markerName(uploadId: string): string {
    checkUploadId(uploadId);
    return `${this.prefix}uploads/${uploadId}`;
  }

  private segmentPrefix(uploadId: string): string {
    checkUploadId(uploadId);
    return `${this.prefix}segments/${uploadId}/`;
  }

  // --- blobs ---------------------------------------------------------------------------------------------

  async stat(digest: string): Promise<{ size: number } | undefined> {
    const response = await this.client.call({ method: 'HEAD', object: this.blobName(digest), idempotent: true });
    await drain(response.body);
    if (response.status === 404) return undefined;
    this.expect(response, [200], 'HEAD blob');
    return { size: Number(header(response.headers, 'content-length') ?? 0) };
  }

  async read(digest: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const object = this.blobName(digest);
    if (range !== undefined && (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start)) {
      throw new RangeError(`invalid byte range ${range.start}-${range.end}`);
    }
    const headers: Record<string, string> = range === undefined ? {} : { range: `bytes=${range.start}-${range.end}` };
    const response = await this.client.call({ method: 'GET', object, headers, idempotent: true, signal });
    if (response.status === 404) {
      await drain(response.body);
      throw new BlobNotFoundError(digest);
    }
    if (response.status === 416) {
      await drain(response.body);
      throw new RangeError(`byte range ${range?.start}-${range?.end} starts beyond the blob`);
    }
    this.expect(response, range === undefined ? [200] : [206, 200], 'GET blob');
    return response.body;
  }

  async delete(digest: string): Promise<void> {
    // multipart-manifest=delete removes an SLO with all its segments (nested ones too); Swift (2.30 at least)
    // refuses it for a plain object ("Not an SLO manifest", a blob pushed in one append), deleted plainly.
    const response = await this.client.call({
      method: 'DELETE',
      object: this.blobName(digest),
      query: { 'multipart-manifest': 'delete' },
      headers: { accept: 'application/json' },
      idempotent: true,
    });
    const text = await readText(response.body);
    if (response.status === 404) return;
    this.expect(response, [200, 204], 'DELETE blob', text);
    if (response.status === 200 && text !== '') {
      const result = JSON.parse(text) as { 'Response Status'?: string; Errors?: unknown[] };
      const status = result['Response Status'] ?? '200';
      if (status.startsWith('400') && JSON.stringify(result.Errors ?? []).includes('Not an SLO manifest')) {
        await this.deleteObjects([this.blobName(digest)]);
        return;
      }
      if (!/^(200|204|404)/.test(status) || (result.Errors?.length ?? 0) > 0) {
        throw this.client.statusFault(Number.parseInt(status, 10) || 500, 'DELETE blob (multipart-manifest=delete)', text);
      }
    }
  }

  async redirectUrl(digest: string): Promise<string | undefined> {
    if (this.tempUrlKey === undefined) return undefined;
    const object = this.blobName(digest);
    const session = await this.client.session();
    const url = new URL(session.storageUrl);
    url.pathname = this.client.objectPath(session, object);
    return signTempUrl({ key: this.tempUrlKey, method: 'GET', url, expiresAt: Math.floor(this.now() / 1000) + this.tuning.tempUrlTtlSeconds });
  }

  /** Server-side copy from another Swift store of the same cluster and account (copy.ts); false otherwise. */
  async copyBlobFrom(source: BlobStore, digest: string): Promise<boolean> {
    if (!(source instanceof SwiftBlobStore)) return false;
    if ((await this.stat(digest)) !== undefined) return true;
    return copySwiftBlob({ client: source.client, object: source.blobName(digest) }, {
      client: this.client,
      object: this.blobName(digest),
      segmentPrefix: `${this.prefix}segments/${replicaSegmentFolder(digest)}/`,
      write: (call) => this.write(call),
      putManifest: (prefix, blob, segments) => this.putManifest(prefix, blob, segments),
      deleteObjects: (names) => this.deleteObjects(names),
      fail: (response, what, text) => {
        this.expect(response, [], what, text);
        throw new Error(`${what} answered ${response.status}`);
      },
    }, digest);
  }

  // --- uploads -------------------------------------------------------------------------------------------

  async startUpload(uploadId: string): Promise<void> {
    const response = await this.write({ method: 'PUT', object: this.markerName(uploadId), headers: { 'if-none-match': '*' }, body: '', idempotent: true });
    await drain(response.body);
    if (response.status === 412) throw new Error(`upload ${uploadId} already exists in storage`);
    this.expect(response, [201], 'PUT upload marker');
  }

  async appendUpload(uploadId: string, offset: number, body: Readable, signal?: AbortSignal): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`invalid upload offset ${offset}`);
    const segments = await this.segmentsOf(uploadId);
    const size = sizeOf(segments);
    if (size !== offset) throw new UploadOffsetError(uploadId, offset, size);
    if (signal?.aborted) throw abortError(signal);
    this.appending.add(uploadId);
    const source = new SegmentSource(body);
    const written: string[] = [];
    let position = offset;
    // The marker's Last-Modified says when the upload was last written (listStaleUploads); rewritten
    // alongside the first segment rather than after the last, to save a round trip per chunk.
    const touched = this.touchMarker(uploadId);
    touched.catch(() => undefined);
    try {
      while (!(await source.ended())) {
        const name = `${this.segmentPrefix(uploadId)}${String(position).padStart(16, '0')}`;
        let bytes = 0;
        const response = await this.write({
          method: 'PUT',
          object: name,
          body: async (request) => {
            bytes = await source.writeSegment(request, this.tuning.segmentSizeBytes);
          },
          idempotent: false,
          signal,
        });
        await drain(response.body);
        this.expect(response, [201], 'PUT segment');
        written.push(name);
        position += bytes;
      }
      await touched;
      return position;
    } catch (error) {
      await source.close().catch(() => undefined);
      // An append is all or nothing: the upload stays at the size the caller knows.
      await this.deleteObjects(written).catch(() => undefined);
      throw signal?.aborted ? abortError(signal) : error;
    } finally {
      this.appending.delete(uploadId);
    }
  }

  async truncateUpload(uploadId: string, size: number): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid upload size ${size}`);
    const segments = await this.segmentsOf(uploadId);
    const current = sizeOf(segments);
    if (this.appending.has(uploadId) || current < size) throw new UploadOffsetError(uploadId, size, current);
    await this.deleteObjects(segments.filter((segment) => segment.start >= size).map((segment) => segment.name));
    const inside = segments.find((segment) => segment.start < size && size < segment.start + segment.bytes);
    if (inside !== undefined) await this.shortenSegment(inside, size - inside.start);
  }

  /**
   * Rewrites a segment with its first `keep` bytes: a ranged GET streamed into a PUT of the same name (the
   * object server keeps serving the old data until the new one is complete). Costs at most one segment of
   * traffic, only when a killed append left part of a segment beyond the recorded size.
   */
  private async shortenSegment(segment: SegmentEntry, keep: number): Promise<void> {
    const source = await this.client.call({ method: 'GET', object: segment.name, headers: { range: `bytes=0-${keep - 1}` }, idempotent: true });
    this.expect(source, [206], 'GET segment to shorten');
    const response = await this.client.call({
      method: 'PUT',
      object: segment.name,
      body: async (request) => {
        await pipeline(source.body, request);
      },
      idempotent: false,
    });
    await drain(response.body);
    this.expect(response, [201], 'PUT shortened segment');
  }

  async uploadSize(uploadId: string): Promise<number> {
    return sizeOf(await this.segmentsOf(uploadId));
  }

  async commitUpload(uploadId: string, digest: string): Promise<void> {
    const blob = this.blobName(digest);
    const [segments, existing] = await Promise.all([this.segmentsOf(uploadId), this.stat(digest)]);
    if (existing !== undefined) {
      await this.abortUpload(uploadId);
      return;
    }
    // The marker goes first: a crash past this point leaks segments at worst, it never lets the purge of
    // stale uploads delete the segments of a committed blob. A failed commit puts the marker back.
    await this.deleteObjects([this.markerName(uploadId)]);
    try {
      if (segments.length === 0) {
        await this.putChecked(blob, { body: '' }, 'PUT empty blob');
      } else if (segments.length === 1) {
        const only = segments[0] as SegmentEntry;
        // Server-side copy, then the segment goes: a small blob is a plain object, as if uploaded whole.
        await this.putChecked(blob, { headers: { 'x-copy-from': `/${this.client.container}/${only.name}` } }, 'COPY segment to blob');
        await this.deleteObjects([only.name]);
      } else {
        await this.putManifest(this.segmentPrefix(uploadId), blob, segments);
      }
    } catch (error) {
      await this.touchMarker(uploadId).catch(() => undefined);
      throw error;
    }
  }

  async abortUpload(uploadId: string): Promise<void> {
    const names = (await this.list(this.segmentPrefix(uploadId))).map((object) => object.name);
    await this.deleteObjects(names);
    await this.deleteObjects([this.markerName(uploadId)]);
  }

  async listStaleUploads(before: Date): Promise<string[]> {
    const markers = await this.list(`${this.prefix}uploads/`);
    const cutoff = before.getTime();
    return markers
      .filter((marker) => Date.parse(`${marker.last_modified}Z`) < cutoff)
      .map((marker) => marker.name.slice(`${this.prefix}uploads/`.length))
      .filter((id) => !id.includes('/'));
  }

  async ping(): Promise<void> {
    const name = `${this.prefix}${VERIFY_MARKER_NAME}`;
    await this.putChecked(name, { body: VERIFY_MARKER_CONTENT }, 'PUT verify marker');
    const response = await this.client.call({ method: 'GET', object: name, idempotent: true });
    const text = await readText(response.body);
    this.expect(response, [200], 'GET verify marker', text);
    if (text !== VERIFY_MARKER_CONTENT) throw new Error(`swift container ${this.client.container}: ${name} read back ${JSON.stringify(text.slice(0, 40))}, not what was written`);
  }

  // --- helpers -------------------------------------------------------------------------------------------

  /**
   * The upload's segments in order; UploadNotFoundError without its marker. The marker's HEAD and the listing
   * go one after the other, not at once: with Keystone, the proxy validates a token it has not seen within its
   * token cache time (keystonemiddleware's token_cache_time) by asking Keystone, and two requests at once with
   * such a token are two validations, which Keystone serializes. An instance that took no chunk of the upload
   * for a while meets exactly that on its first chunk; one after the other, the second request finds the token
   * validated.
   */
  private async segmentsOf(uploadId: string): Promise<SegmentEntry[]> {
    const marker = this.markerName(uploadId);
    const head = await this.client.call({ method: 'HEAD', object: marker, idempotent: true });
    await drain(head.body);
    if (head.status === 404) throw new UploadNotFoundError(uploadId);
    this.expect(head, [200], 'HEAD upload marker');
    const listed = await this.list(this.segmentPrefix(uploadId));
    const segments: SegmentEntry[] = [];
    for (const object of listed) {
      const match = SEGMENT_NAME_RE.exec(object.name);
      if (match !== null) segments.push({ name: object.name, start: Number(match[1]), bytes: object.bytes });
    }
    return segments;
  }

  /** The manifest limit: the configured one, lowered to the cluster's when its /info says less. */
  private manifestLimit(): Promise<number> {
    this.manifestLimitLookup ??= this.client.clusterInfo().then((info) => {
      const slo = info?.slo as { max_manifest_segments?: unknown } | undefined;
      const limit = slo?.max_manifest_segments;
      return typeof limit === 'number' && Number.isSafeInteger(limit) && limit >= 2 ? Math.min(limit, this.tuning.maxManifestSegments) : this.tuning.maxManifestSegments;
    });
    return this.manifestLimitLookup;
  }

  /** Writes the SLO manifest, nesting manifests (under `nestedPrefix`) of at most the manifest limit's entries when needed. */
  private async putManifest(nestedPrefix: string, blob: string, segments: readonly { name: string; bytes: number }[]): Promise<void> {
    const limit = await this.manifestLimit();
    let entries = segments.map((segment) => ({ path: `/${this.client.container}/${segment.name}`, size_bytes: segment.bytes }));
    for (let level = 1; entries.length > limit; level += 1) {
      const grouped: typeof entries = [];
      for (let i = 0; i < entries.length; i += limit) {
        const group = entries.slice(i, i + limit);
        const name = `${nestedPrefix}manifest-${level}-${String(grouped.length).padStart(6, '0')}`;
        await this.putChecked(name, { query: { 'multipart-manifest': 'put' }, body: JSON.stringify(group) }, 'PUT nested SLO manifest');
        grouped.push({ path: `/${this.client.container}/${name}`, size_bytes: group.reduce((sum, entry) => sum + entry.size_bytes, 0) });
      }
      entries = grouped;
    }
    await this.putChecked(blob, { query: { 'multipart-manifest': 'put' }, body: JSON.stringify(entries) }, 'PUT SLO manifest');
  }

  private async touchMarker(uploadId: string): Promise<void> {
    await this.putChecked(this.markerName(uploadId), { body: '' }, 'PUT upload marker');
  }

  private async putChecked(object: string, call: Pick<SwiftCall, 'headers' | 'query' | 'body'>, what: string): Promise<void> {
    const response = await this.write({ method: 'PUT', object, idempotent: true, body: '', ...call });
    const text = await readText(response.body);
    this.expect(response, [201], what, text);
  }

  /** A write that creates the container on its first 404 (a fresh deployment) and goes again. */
  private async write(call: SwiftCall): Promise<HttpResponse> {
    const response = await this.client.call(call);
    if (response.status !== 404 || this.containerReady) {
      if (response.status < 300) this.containerReady = true;
      return response;
    }
    await drain(response.body);
    const created = await this.client.call({ method: 'PUT', idempotent: true, body: '' });
    await drain(created.body);
    this.expect(created, [201, 202], 'PUT container');
    this.containerReady = true;
    // A streamed body is sent after 100 Continue only, so the 404 came before any byte of it was read.
    return this.client.call(call);
  }

  /** Deletes objects (404 is fine), a few at a time. */
  private async deleteObjects(names: string[]): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const name = names[next] as string;
        next += 1;
        const response = await this.client.call({ method: 'DELETE', object: name, idempotent: true });
        await drain(response.body);
        if (response.status !== 404) this.expect(response, [204, 200], 'DELETE object');
      }
    };
    await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, names.length) }, worker));
  }

  /** Every object under `prefix`, paging through the container listing. */
  private async list(prefix: string): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    let marker = '';
    for (;;) {
      const query: Record<string, string> = { format: 'json', prefix, limit: '10000' };
      if (marker !== '') query.marker = marker;
      const response = await this.client.call({ method: 'GET', query, idempotent: true });
      const text = await readText(response.body, 64 << 20);
      if (response.status === 404) return out;
      this.expect(response, [200, 204], 'GET container listing', text);
      const page = response.status === 204 || text === '' ? [] : (JSON.parse(text) as ListedObject[]);
      out.push(...page);
      if (page.length < 10000) return out;
      marker = (page[page.length - 1] as ListedObject).name;
    }
  }

  /** Throws the fault (or a plain error) for a status outside `allowed`. */
  private expect(response: HttpResponse, allowed: number[], what: string, text = ''): void {
    if (allowed.includes(response.status)) return;
    response.body.resume();
    throw this.client.statusFault(response.status, `${what} in container ${this.client.container}`, text);
  }

  async close(): Promise<void> {
    // The transport's keep-alive sockets are closed by the driver that owns it.
  }
}

function sizeOf(segments: SegmentEntry[]): number {
  let size = 0;
  for (const segment of segments) {
    if (segment.start !== size) throw new Error(`upload segments are not contiguous at ${segment.name} (expected offset ${size})`);
    size += segment.bytes;
  }
  return size;
}

