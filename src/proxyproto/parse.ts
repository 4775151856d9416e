/**
 * The PROXY protocol parser's one entry point: pure, incremental, no I/O. Feed it every byte received so far
 * on a connection; it answers "incomplete" (read more), "complete" (the header's length and contents) or
 * "invalid" (close the connection). It never looks further than the header's cap (v1: 107 bytes; v2: 16 +
 * the announced length, itself capped), so the caller needs to buffer no more than that.
 */
import { parseV1, V1_MAX_LENGTH } from './v1.js';
import { parseV2, V2_DEFAULT_MAX_PAYLOAD, V2_FIXED_LENGTH } from './v2.js';
import type { ProxyParseOptions, ProxyParseResult } from './types.js';

export type { IpEndpoint, ProxyAddresses, ProxyHeader, ProxyParseOptions, ProxyParseResult, ProxyTlvs, RawTlv, SslTlv } from './types.js';
export { V1_MAX_LENGTH } from './v1.js';
export { V2_SIGNATURE, V2_DEFAULT_MAX_PAYLOAD } from './v2.js';

const V1_FIRST_BYTE = 0x50; // "P"
const V2_FIRST_BYTE = 0x0d; // "\r"

/** Parses the PROXY header (v1 or v2) at the start of `bytes`. */
export function parseProxyHeader(bytes: Uint8Array, options: ProxyParseOptions = {}): ProxyParseResult {
  if (bytes.length === 0) return { status: 'incomplete' };
  if (bytes[0] === V1_FIRST_BYTE) return parseV1(bytes);
  if (bytes[0] === V2_FIRST_BYTE) return parseV2(bytes, options);
  return { status: 'invalid', reason: 'not a PROXY protocol header' };
}

/** The most bytes a header can take with these options: what a caller may need to buffer. */
export function maxHeaderLength(options: ProxyParseOptions = {}): number {
  const payload = Math.min(options.maxV2PayloadLength ?? V2_DEFAULT_MAX_PAYLOAD, 0xffff);
  return Math.max(V1_MAX_LENGTH, V2_FIXED_LENGTH + payload);
}
