import type { S3StoreOptions } from './options.js';

/**
 * Whether two S3 stores are one service seen with one identity, so that one may copy from the other's
 * bucket server-side: the same custom endpoint (or both AWS itself, whose CopyObject works across regions)
 * and the same static keys (or both the ambient AWS credential chain). Pure.
 */
export function sameS3Service(a: S3StoreOptions, b: S3StoreOptions): boolean {
  if (a.kind !== b.kind) return false;
  if (normalizeEndpoint(a.endpoint) !== normalizeEndpoint(b.endpoint)) return false;
  const [x, y] = [a.credentials, b.credentials];
  if (x === undefined || y === undefined) return x === y;
  return x.accessKeyId === y.accessKeyId && x.secretAccessKey === y.secretAccessKey && (x.sessionToken ?? '') === (y.sessionToken ?? '');
}

function normalizeEndpoint(endpoint: string | undefined): string {
  if (endpoint === undefined) return 'aws';
  try {
    const url = new URL(endpoint);
    return `${url.protocol}//${url.host.toLowerCase()}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    return endpoint;
  }
}
