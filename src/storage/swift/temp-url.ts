import { createHmac } from 'node:crypto';

/**
 * A Swift temp URL (the tempurl middleware): HMAC-SHA256 with the account's or container's
 * Temp-URL-Key over `<method>\n<expires>\n<path>`, where path is the object's URL path starting at /v1/.
 * Anyone holding the URL may GET the object until `expires` (epoch seconds), with no token.
 */
export function signTempUrl(options: { key: string; method: 'GET' | 'HEAD'; url: URL; expiresAt: number }): string {
  const signature = createHmac('sha256', options.key)
    .update(`${options.method}\n${options.expiresAt}\n${decodeURIComponent(options.url.pathname)}`)
    .digest('hex');
  const signed = new URL(options.url.href);
  signed.search = '';
  signed.searchParams.set('temp_url_sig', signature);
  signed.searchParams.set('temp_url_expires', String(options.expiresAt));
  return signed.href;
}
