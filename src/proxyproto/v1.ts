/** The human-readable PROXY protocol v1 header: "PROXY TCP4|TCP6|UNKNOWN ...\r\n", at most 107 bytes. */
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './addresses.js';
import type { IpEndpoint, ProxyHeader, ProxyParseResult } from './types.js';

/** The longest v1 header the specification allows, CRLF included. */
export const V1_MAX_LENGTH = 107;

const PREFIX = 'PROXY ';
const PROTOCOLS = ['TCP4', 'TCP6', 'UNKNOWN'] as const;
const CR = 0x0d;
const LF = 0x0a;
// Characters a TCP4/TCP6 line can hold after its protocol: addresses, ports and single spaces.
const ADDRESS_LINE = /^[0-9a-fA-F.: ]*$/;

/** Parses a v1 header at the start of `bytes` (which start with "P"). */
export function parseV1(bytes: Uint8Array): ProxyParseResult {
  const scanned = Math.min(bytes.length, V1_MAX_LENGTH);
  let crAt = -1;
  for (let i = 0; i < scanned; i++) {
    const byte = bytes[i]!;
    if (byte === CR) {
      crAt = i;
      break;
    }
    if (byte < 0x20 || byte > 0x7e) return invalid(`v1 header holds a non-printable byte 0x${hex(byte)} at offset ${i}`);
  }
  if (crAt < 0) {
    if (bytes.length >= V1_MAX_LENGTH) return invalid(`v1 header has no CRLF within ${V1_MAX_LENGTH} bytes`);
    return checkPartialLine(latin1(bytes, bytes.length));
  }
  if (crAt + 2 > V1_MAX_LENGTH) return invalid(`v1 header has no CRLF within ${V1_MAX_LENGTH} bytes`);
  if (bytes.length === crAt + 1) return checkPartialLine(latin1(bytes, crAt));
  if (bytes[crAt + 1] !== LF) return invalid('v1 header has a CR not followed by LF');
  const parsed = parseLine(latin1(bytes, crAt));
  if (typeof parsed === 'string') return invalid(parsed);
  return { status: 'complete', length: crAt + 2, header: parsed };
}

/** Refuses a line that cannot become a valid header, however it continues; otherwise asks for more. */
function checkPartialLine(line: string): ProxyParseResult {
  const prefix = line.slice(0, PREFIX.length);
  if (!PREFIX.startsWith(prefix)) return invalid('not a PROXY protocol header');
  if (line.length <= PREFIX.length) return { status: 'incomplete' };
  const rest = line.slice(PREFIX.length);
  const space = rest.indexOf(' ');
  const protocol = space < 0 ? rest : rest.slice(0, space);
  const candidates = PROTOCOLS.filter((p) => (space < 0 ? p.startsWith(protocol) : p === protocol));
  if (candidates.length === 0) return invalid(`v1 header names an unknown protocol "${printable(protocol)}"`);
  if (space >= 0 && protocol !== 'UNKNOWN') {
    const fields = rest.slice(space + 1);
    if (!ADDRESS_LINE.test(fields)) return invalid(`v1 ${protocol} header holds characters that are not part of an address or port`);
    if (fields.split(' ').length > 4) return invalid(`v1 ${protocol} header has more than 4 fields after the protocol`);
  }
  return { status: 'incomplete' };
}

/** The header of a complete line (CRLF excluded), or the reason it is invalid. */
function parseLine(line: string): ProxyHeader | string {
  if (!line.startsWith(PREFIX)) return 'not a PROXY protocol header';
  const rest = line.slice(PREFIX.length);
  // UNKNOWN: the receiver must ignore whatever the sender put before the CRLF.
  if (rest === 'UNKNOWN' || rest.startsWith('UNKNOWN ')) return header(null);
  const fields = rest.split(' ');
  const protocol = fields[0]!;
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return `v1 header names an unknown protocol "${printable(protocol)}"`;
  if (fields.length !== 5) return `v1 ${protocol} header needs exactly 4 fields after the protocol, separated by single spaces`;
  const [, sourceText, destinationText, sourcePortText, destinationPortText] = fields as [string, string, string, string, string];
  const family = protocol === 'TCP4' ? 'inet' : 'inet6';
  const source = endpoint(family, sourceText, sourcePortText, 'source');
  if (typeof source === 'string') return source;
  const destination = endpoint(family, destinationText, destinationPortText, 'destination');
  if (typeof destination === 'string') return destination;
  return header({ family, transport: 'stream', source, destination });
}

function endpoint(family: 'inet' | 'inet6', addressText: string, portText: string, role: string): IpEndpoint | string {
  let address: string;
  if (family === 'inet') {
    const bytes = parseIpv4(addressText);
    if (!bytes) return `v1 TCP4 header has an invalid ${role} address "${printable(addressText)}"`;
    address = formatIpv4(bytes);
  } else {
    const bytes = parseIpv6(addressText);
    if (!bytes) return `v1 TCP6 header has an invalid ${role} address "${printable(addressText)}"`;
    address = formatIpv6(bytes);
  }
  if (!/^(0|[1-9][0-9]{0,4})$/.test(portText) || Number(portText) > 65535) {
    return `v1 header has an invalid ${role} port "${printable(portText)}"`;
  }
  return { address, port: Number(portText) };
}

function header(addresses: ProxyHeader['addresses']): ProxyHeader {
  return { version: 1, command: 'proxy', addresses, tlvs: { others: [] } };
}

function invalid(reason: string): ProxyParseResult {
  return { status: 'invalid', reason };
}

function latin1(bytes: Uint8Array, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('latin1');
}

function printable(text: string): string {
  return text.length > 48 ? `${text.slice(0, 48)}...` : text;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
