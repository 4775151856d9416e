/**
 * Where the S3 drivers keep things in the bucket, under the location's storage_path:
 *   <root>sha256/<first 2 hex>/<hex>      a committed blob (Quay's layout, so a bucket written by Quay is read as is)
 *   <root>uploads/<id>/data               the key of the upload's multipart upload (an object only after commit)
 *   <root>uploads/<id>/state              the upload's commit point: its body is the staged tail (< 5 MiB),
 *                                         its metadata the multipart upload id and how many parts count
 *   <root>uploads/<id>/previous           the state before the last append (so truncateUpload can step back)
 * Every name a client can influence (digest, upload id) is checked against a strict pattern before it
 * becomes part of a key.
 */

const BLOB_DIGEST_RE = /^sha256:([0-9a-f]{64})$/;
/** Upload ids are UUIDs in practice; any short [A-Za-z0-9-] token is admitted, never '.', '/' or '\0'. */
const UPLOAD_ID_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;

/** The key prefix for a storage_path: no leading '/', one trailing '/', '' for the bucket's root. */
export function rootPrefix(storagePath: string): string {
  const trimmed = storagePath.replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

/** Throws unless `digest` is sha256:<64 lowercase hex>; returns the hex. */
export function digestHex(digest: string): string {
  const match = typeof digest === 'string' ? BLOB_DIGEST_RE.exec(digest) : null;
  if (match === null) {
    throw new Error(`invalid blob digest ${JSON.stringify(String(digest)).slice(0, 100)}: expected sha256:<64 lowercase hex>`);
  }
  return match[1] as string;
}

/** Throws unless the upload id is a short token of letters, digits and '-'. */
export function checkUploadId(uploadId: string): void {
  if (typeof uploadId !== 'string' || !UPLOAD_ID_RE.test(uploadId)) {
    throw new Error(`invalid upload id ${JSON.stringify(String(uploadId)).slice(0, 100)}: expected 1-64 letters, digits or '-'`);
  }
}

/** The key layout of one location. */
export class KeyLayout {
  readonly root: string;

  constructor(storagePath: string) {
    this.root = rootPrefix(storagePath);
  }

  blob(digest: string): string {
    const hex = digestHex(digest);
    return `${this.root}sha256/${hex.slice(0, 2)}/${hex}`;
  }

  /** Prefix of every upload's objects; listing it finds the uploads. */
  get uploadsPrefix(): string {
    return `${this.root}uploads/`;
  }

  uploadPrefix(uploadId: string): string {
    checkUploadId(uploadId);
    return `${this.uploadsPrefix}${uploadId}/`;
  }

  uploadData(uploadId: string): string {
    return `${this.uploadPrefix(uploadId)}data`;
  }

  uploadState(uploadId: string): string {
    return `${this.uploadPrefix(uploadId)}state`;
  }

  uploadPrevious(uploadId: string): string {
    return `${this.uploadPrefix(uploadId)}previous`;
  }

  /** The upload id and object name of a key under uploadsPrefix, or undefined for anything else. */
  parseUploadKey(key: string): { uploadId: string; name: string } | undefined {
    if (!key.startsWith(this.uploadsPrefix)) return undefined;
    const [uploadId, name, ...rest] = key.slice(this.uploadsPrefix.length).split('/');
    if (uploadId === undefined || name === undefined || rest.length > 0 || !UPLOAD_ID_RE.test(uploadId)) return undefined;
    return { uploadId, name };
  }

  /** The marker Quay writes and reads back to validate a location. */
  verifyMarker(name: string): string {
    return `${this.root}${name}`;
  }
}
