/** The binary PROXY protocol v2 header: 12-byte signature, version/command, family, length, addresses, TLVs. */
import { formatIpv4, formatIpv6 } from './addresses.js';
import { crc32c } from './crc32c.js';
import { decodeTlvs } from './tlv.js';
import type { ProxyAddresses, ProxyHeader, ProxyParseOptions, ProxyParseResult } from './types.js';

export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Signature, version/command, family and the 16-bit length. */
export const V2_FIXED_LENGTH = 16;
export const V2_DEFAULT_MAX_PAYLOAD = 4096;
const V2_ABSOLUTE_MAX_PAYLOAD = 0xffff;

const COMMAND_LOCAL = 0x0;
const COMMAND_PROXY = 0x1;
const UNIX_PATH_LENGTH = 108;

// The only family/transport bytes the specification allows; receivers must refuse the others.
const FAMILIES: Record<number, { family: 'unspec' | 'inet' | 'inet6' | 'unix'; transport: 'unspec' | 'stream' | 'dgram'; length: number }> = {
  0x00: { family: 'unspec', transport: 'unspec', length: 0 },
  0x11: { family: 'inet', transport: 'stream', length: 12 },
  0x12: { family: 'inet', transport: 'dgram', length: 12 },
  0x21: { family: 'inet6', transport: 'stream', length: 36 },
  0x22: { family: 'inet6', transport: 'dgram', length: 36 },
  0x31: { family: 'unix', transport: 'stream', length: 2 * UNIX_PATH_LENGTH },
  0x32: { family: 'unix', transport: 'dgram', length: 2 * UNIX_PATH_LENGTH },
};

/** Parses a v2 header at the start of `bytes`; checks each field as soon as its byte has arrived. */
export function parseV2(bytes: Uint8Array, options: ProxyParseOptions = {}): ProxyParseResult {
  const maxPayload = Math.min(options.maxV2PayloadLength ?? V2_DEFAULT_MAX_PAYLOAD, V2_ABSOLUTE_MAX_PAYLOAD);
  const signatureBytes = Math.min(bytes.length, V2_SIGNATURE.length);
  for (let i = 0; i < signatureBytes; i++) {
    if (bytes[i] !== V2_SIGNATURE[i]) return invalid('bad v2 signature');
  }
  if (bytes.length <= 12) return { status: 'incomplete' };
  const versionCommand = bytes[12]!;
  if (versionCommand >> 4 !== 2) return invalid(`unsupported v2 version ${versionCommand >> 4}`);
  const command = versionCommand & 0x0f;
  if (command !== COMMAND_LOCAL && command !== COMMAND_PROXY) return invalid(`unknown v2 command 0x${command.toString(16)}`);
  if (bytes.length <= 13) return { status: 'incomplete' };
  const familyByte = bytes[13]!;
  const family = FAMILIES[familyByte];
  // LOCAL ignores the family (the specification says to discard the whole block).
  if (command === COMMAND_PROXY && family === undefined) return invalid(`unknown v2 address family/transport 0x${familyByte.toString(16).padStart(2, '0')}`);
  if (bytes.length < V2_FIXED_LENGTH) return { status: 'incomplete' };
  const payloadLength = (bytes[14]! << 8) | bytes[15]!;
  if (payloadLength > maxPayload) return invalid(`v2 header announces ${payloadLength} bytes, more than the ${maxPayload} accepted`);
  if (command === COMMAND_PROXY && family && payloadLength < family.length) {
    return invalid(`v2 ${family.family} header is ${payloadLength} bytes long, too short for its addresses (${family.length})`);
  }
  const length = V2_FIXED_LENGTH + payloadLength;
  if (bytes.length < length) return { status: 'incomplete' };
  if (command === COMMAND_LOCAL || !family) {
    return complete(length, { version: 2, command: 'local', addresses: null, tlvs: { others: [] } });
  }
  const headerBytes = bytes.subarray(0, length);
  const tlvStart = V2_FIXED_LENGTH + family.length;
  const decoded = decodeTlvs(headerBytes.subarray(tlvStart));
  if (typeof decoded === 'string') return invalid(decoded);
  if (decoded.crc32cOffset !== undefined) {
    const crcAt = tlvStart + decoded.crc32cOffset;
    if (crc32c(headerBytes, crcAt) !== decoded.tlvs.crc32c) return invalid('v2 header CRC32C does not match');
  }
  return complete(length, { version: 2, command: 'proxy', addresses: addresses(family, headerBytes), tlvs: decoded.tlvs });
}

function addresses(family: (typeof FAMILIES)[number], header: Uint8Array): ProxyAddresses | null {
  const at = V2_FIXED_LENGTH;
  const view = Buffer.from(header.buffer, header.byteOffset, header.length);
  if (family.transport === 'unspec') return null;
  switch (family.family) {
    case 'inet':
      return {
        family: 'inet',
        transport: family.transport,
        source: { address: formatIpv4(header.subarray(at, at + 4)), port: view.readUInt16BE(at + 8) },
        destination: { address: formatIpv4(header.subarray(at + 4, at + 8)), port: view.readUInt16BE(at + 10) },
      };
    case 'inet6':
      return {
        family: 'inet6',
        transport: family.transport,
        source: { address: formatIpv6(header.subarray(at, at + 16)), port: view.readUInt16BE(at + 32) },
        destination: { address: formatIpv6(header.subarray(at + 16, at + 32)), port: view.readUInt16BE(at + 34) },
      };
    case 'unix':
      return {
        family: 'unix',
        transport: family.transport,
        source: unixPath(view.subarray(at, at + UNIX_PATH_LENGTH)),
        destination: unixPath(view.subarray(at + UNIX_PATH_LENGTH, at + 2 * UNIX_PATH_LENGTH)),
      };
    default:
      return null;
  }
}

/** A NUL-padded sun_path; an abstract socket (leading NUL) is shown with a leading "@" as ss(8) does. */
function unixPath(raw: Buffer): string {
  if (raw[0] === 0) {
    const end = lastNonZero(raw);
    return `@${raw.subarray(1, end).toString('utf8')}`;
  }
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? raw.length : nul).toString('utf8');
}

function lastNonZero(raw: Buffer): number {
  let end = raw.length;
  while (end > 1 && raw[end - 1] === 0) end--;
  return end;
}

function complete(length: number, header: ProxyHeader): ProxyParseResult {
  return { status: 'complete', length, header };
}

function invalid(reason: string): ProxyParseResult {
  return { status: 'invalid', reason };
}
