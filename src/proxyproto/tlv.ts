/** The type-length-value records after a v2 header's addresses. */
import type { ProxyTlvs, RawTlv, SslTlv } from './types.js';

export const PP2_TYPE_ALPN = 0x01;
export const PP2_TYPE_AUTHORITY = 0x02;
export const PP2_TYPE_CRC32C = 0x03;
export const PP2_TYPE_NOOP = 0x04;
export const PP2_TYPE_UNIQUE_ID = 0x05;
export const PP2_TYPE_SSL = 0x20;
export const PP2_SUBTYPE_SSL_VERSION = 0x21;
export const PP2_SUBTYPE_SSL_CN = 0x22;
export const PP2_SUBTYPE_SSL_CIPHER = 0x23;
export const PP2_SUBTYPE_SSL_SIG_ALG = 0x24;
export const PP2_SUBTYPE_SSL_KEY_ALG = 0x25;
export const PP2_TYPE_NETNS = 0x30;
export const PP2_TYPE_AWS = 0xea;
export const PP2_SUBTYPE_AWS_VPCE_ID = 0x01;

const PP2_CLIENT_SSL = 0x01;
const PP2_CLIENT_CERT_CONN = 0x02;
const PP2_CLIENT_CERT_SESS = 0x04;
const UNIQUE_ID_MAX_LENGTH = 128;
const SSL_FIXED_LENGTH = 5;

/** A TLV list read from a v2 header, with where the CRC32C value sits (offset in the TLV block) if present. */
export interface DecodedTlvs {
  tlvs: ProxyTlvs;
  crc32cOffset?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes the TLV block of a v2 header, or returns the reason it is invalid. */
export function decodeTlvs(block: Uint8Array): DecodedTlvs | string {
  const records = splitRecords(block, 'TLV');
  if (typeof records === 'string') return records;
  const tlvs: ProxyTlvs = { others: [] };
  const seen = new Set<number>();
  let crc32cOffset: number | undefined;
  for (const { type, value, valueOffset } of records) {
    if (type === PP2_TYPE_NOOP) continue;
    if (type !== PP2_TYPE_AWS && isNamed(type)) {
      if (seen.has(type)) return `v2 header repeats TLV 0x${hex(type)}`;
      seen.add(type);
    }
    switch (type) {
      case PP2_TYPE_ALPN: {
        if (value.length === 0) return 'v2 ALPN TLV is empty';
        // An ALPN protocol id is any byte string (RFC 7301); latin1 keeps every byte.
        tlvs.alpn = Buffer.from(value).toString('latin1');
        break;
      }
      case PP2_TYPE_AUTHORITY: {
        const authority = text(value);
        if (authority === null || authority.length === 0) return 'v2 authority TLV is empty or not valid UTF-8';
        tlvs.authority = authority;
        break;
      }
      case PP2_TYPE_CRC32C:
        if (value.length !== 4) return `v2 CRC32C TLV is ${value.length} bytes long, not 4`;
        tlvs.crc32c = Buffer.from(value).readUInt32BE(0);
        crc32cOffset = valueOffset;
        break;
      case PP2_TYPE_UNIQUE_ID:
        if (value.length > UNIQUE_ID_MAX_LENGTH) return `v2 unique id TLV is ${value.length} bytes long, more than ${UNIQUE_ID_MAX_LENGTH}`;
        tlvs.uniqueId = Buffer.from(value);
        break;
      case PP2_TYPE_SSL: {
        const ssl = decodeSsl(value);
        if (typeof ssl === 'string') return ssl;
        tlvs.ssl = ssl;
        break;
      }
      case PP2_TYPE_NETNS: {
        const netns = text(value);
        if (netns === null) return 'v2 netns TLV is not valid UTF-8';
        tlvs.netns = netns;
        break;
      }
      case PP2_TYPE_AWS:
        if (value.length >= 1 && value[0] === PP2_SUBTYPE_AWS_VPCE_ID) {
          if (tlvs.awsVpcEndpointId !== undefined) return 'v2 header repeats the AWS VPC endpoint id TLV';
          const id = text(value.subarray(1));
          if (id === null || id.length === 0) return 'v2 AWS VPC endpoint id TLV is empty or not valid UTF-8';
          tlvs.awsVpcEndpointId = id;
        } else {
          tlvs.others.push({ type, value: Buffer.from(value) });
        }
        break;
      default:
        // Sub-TLV types of PP2_TYPE_SSL are not valid at the top level.
        if (type >= PP2_SUBTYPE_SSL_VERSION && type <= PP2_SUBTYPE_SSL_KEY_ALG) return `v2 SSL sub-TLV 0x${hex(type)} appears outside an SSL TLV`;
        tlvs.others.push({ type, value: Buffer.from(value) });
    }
  }
  return crc32cOffset === undefined ? { tlvs } : { tlvs, crc32cOffset };
}

function isNamed(type: number): boolean {
  return [PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_CRC32C, PP2_TYPE_UNIQUE_ID, PP2_TYPE_SSL, PP2_TYPE_NETNS].includes(type);
}

function decodeSsl(value: Uint8Array): SslTlv | string {
  if (value.length < SSL_FIXED_LENGTH) return `v2 SSL TLV is ${value.length} bytes long, shorter than ${SSL_FIXED_LENGTH}`;
  const client = value[0]!;
  const verify = Buffer.from(value.buffer, value.byteOffset + 1, 4).readUInt32BE(0);
  const records = splitRecords(value.subarray(SSL_FIXED_LENGTH), 'SSL sub-TLV');
  if (typeof records === 'string') return records;
  const ssl: SslTlv = {
    clientSsl: (client & PP2_CLIENT_SSL) !== 0,
    clientCertConnection: (client & PP2_CLIENT_CERT_CONN) !== 0,
    clientCertSession: (client & PP2_CLIENT_CERT_SESS) !== 0,
    verified: verify === 0,
    others: [],
  };
  const fields: Record<number, 'version' | 'commonName' | 'cipher' | 'signatureAlgorithm' | 'keyAlgorithm'> = {
    [PP2_SUBTYPE_SSL_VERSION]: 'version',
    [PP2_SUBTYPE_SSL_CN]: 'commonName',
    [PP2_SUBTYPE_SSL_CIPHER]: 'cipher',
    [PP2_SUBTYPE_SSL_SIG_ALG]: 'signatureAlgorithm',
    [PP2_SUBTYPE_SSL_KEY_ALG]: 'keyAlgorithm',
  };
  for (const { type, value: subValue } of records) {
    const field = fields[type];
    if (field === undefined) {
      ssl.others.push({ type, value: Buffer.from(subValue) });
      continue;
    }
    if (ssl[field] !== undefined) return `v2 SSL TLV repeats sub-TLV 0x${hex(type)}`;
    const decoded = text(subValue);
    if (decoded === null) return `v2 SSL sub-TLV 0x${hex(type)} is not valid UTF-8`;
    ssl[field] = decoded;
  }
  return ssl;
}

interface SplitRecord extends RawTlv {
  valueOffset: number;
}

function splitRecords(block: Uint8Array, what: string): SplitRecord[] | string {
  const records: SplitRecord[] = [];
  let offset = 0;
  while (offset < block.length) {
    if (block.length - offset < 3) return `v2 header ends inside a ${what} header at offset ${offset}`;
    const type = block[offset]!;
    const length = (block[offset + 1]! << 8) | block[offset + 2]!;
    const valueOffset = offset + 3;
    if (valueOffset + length > block.length) return `v2 ${what} 0x${hex(type)} is ${length} bytes long, past the end of the header`;
    records.push({ type, value: Buffer.from(block.buffer, block.byteOffset + valueOffset, length), valueOffset });
    offset = valueOffset + length;
  }
  return records;
}

function text(value: Uint8Array): string | null {
  try {
    return utf8.decode(value);
  } catch {
    return null;
  }
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
