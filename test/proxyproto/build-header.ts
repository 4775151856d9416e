// Test-side encoders for PROXY headers, written from the specification independently of the parser.
import { isIPv4 } from 'node:net';

export const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

export interface Tlv {
  type: number;
  value: Buffer;
}

export interface V2Spec {
  /** Version/command byte; default 0x21 (v2 PROXY). */
  versionCommand?: number;
  /** Family/transport byte; default from the addresses (0x11 or 0x21). */
  family?: number;
  source?: string;
  destination?: string;
  sourcePort?: number;
  destinationPort?: number;
  /** Raw address block, instead of source/destination. */
  addressBlock?: Buffer;
  tlvs?: Tlv[];
  /** Append a PP2_TYPE_CRC32C TLV holding the right checksum (or `wrong` for a bad one). */
  crc?: 'right' | 'wrong';
  /** Override the 16-bit length field. */
  length?: number;
}

/** The bytes of a v2 header. */
export function v2(spec: V2Spec = {}): Buffer {
  const source = spec.source ?? '192.0.2.10';
  const destination = spec.destination ?? '198.51.100.20';
  const v4 = isIPv4(source);
  const addressBlock =
    spec.addressBlock ??
    Buffer.concat([addressBytes(source), addressBytes(destination), port(spec.sourcePort ?? 51234), port(spec.destinationPort ?? 8443)]);
  const tlvs = [...(spec.tlvs ?? [])];
  if (spec.crc) tlvs.push({ type: 0x03, value: Buffer.alloc(4) });
  const tlvBytes = Buffer.concat(tlvs.map(encodeTlv));
  const payload = Buffer.concat([addressBlock, tlvBytes]);
  const fixed = Buffer.alloc(4);
  fixed[0] = spec.versionCommand ?? 0x21;
  fixed[1] = spec.family ?? (v4 ? 0x11 : 0x21);
  fixed.writeUInt16BE(spec.length ?? payload.length, 2);
  const header = Buffer.concat([SIGNATURE, fixed, payload]);
  if (spec.crc) {
    const at = header.length - 4;
    const value = crc32cReference(header) ^ (spec.crc === 'wrong' ? 1 : 0);
    header.writeUInt32BE(value >>> 0, at);
  }
  return header;
}

export function encodeTlv(tlv: Tlv): Buffer {
  const head = Buffer.alloc(3);
  head[0] = tlv.type;
  head.writeUInt16BE(tlv.value.length, 1);
  return Buffer.concat([head, tlv.value]);
}

/** PP2_TYPE_SSL with its fixed part and sub-TLVs. */
export function sslTlv(client: number, verify: number, subTlvs: Tlv[]): Tlv {
  const fixed = Buffer.alloc(5);
  fixed[0] = client;
  fixed.writeUInt32BE(verify, 1);
  return { type: 0x20, value: Buffer.concat([fixed, ...subTlvs.map(encodeTlv)]) };
}

export function text(type: number, value: string): Tlv {
  return { type, value: Buffer.from(value, 'utf8') };
}

function port(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

/** Address bytes without the parser's code: IPv4 by splitting, IPv6 through the WHATWG URL parser. */
function addressBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head = '', tail = ''] = canonical.split('::');
  const words = (part: string) => (part === '' ? [] : part.split(':').map((w) => parseInt(w, 16)));
  const headWords = words(head);
  const tailWords = words(tail);
  const all = canonical.includes('::') ? [...headWords, ...new Array<number>(8 - headWords.length - tailWords.length).fill(0), ...tailWords] : headWords;
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

/** A bitwise CRC-32C, deliberately not the table-driven one under test. */
export function crc32cReference(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
