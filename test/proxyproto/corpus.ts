// The table of valid and invalid PROXY headers shared by the table test and the fuzz test.
import assert from 'node:assert/strict';
import type { ProxyHeader, ProxyParseOptions } from '../../src/proxyproto/parse.js';
import { SIGNATURE, sslTlv, text, v2 } from './build-header.js';

export interface ValidCase {
  name: string;
  bytes: Buffer;
  options?: ProxyParseOptions;
  check: (header: ProxyHeader) => void;
}

export interface InvalidCase {
  name: string;
  bytes: Buffer;
  options?: ProxyParseOptions;
  reason: RegExp;
}

export const ascii = (s: string) => Buffer.from(s, 'latin1');

function endpoints(header: ProxyHeader, source: [string, number], destination: [string, number]): void {
  const a = header.addresses;
  assert.ok(a && a.family !== 'unix', 'expected IP addresses');
  assert.deepEqual(a.source, { address: source[0], port: source[1] });
  assert.deepEqual(a.destination, { address: destination[0], port: destination[1] });
}

function unixPath(path: string): Buffer {
  const b = Buffer.alloc(108);
  b.write(path, 'utf8');
  return b;
}

const longestV1 = 'PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n';
const unknownOf107 = `PROXY UNKNOWN ${'x'.repeat(107 - 'PROXY UNKNOWN '.length - 2)}\r\n`;

export const validCases: ValidCase[] = [
  {
    name: 'v1 TCP4',
    bytes: ascii('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'),
    check: (h) => {
      assert.equal(h.version, 1);
      assert.equal(h.command, 'proxy');
      assert.equal(h.addresses?.family, 'inet');
      assert.equal(h.addresses?.transport, 'stream');
      endpoints(h, ['192.168.0.1', 56324], ['192.168.0.11', 443]);
    },
  },
  {
    name: 'v1 TCP4 with port 0 and 255s',
    bytes: ascii('PROXY TCP4 255.255.255.255 0.0.0.0 0 65535\r\n'),
    check: (h) => endpoints(h, ['255.255.255.255', 0], ['0.0.0.0', 65535]),
  },
  {
    name: 'v1 TCP6, written long and upper case, comes out canonical',
    bytes: ascii('PROXY TCP6 2001:DB8:0:0:0:0:0:1 2001:db8::2 65535 8443\r\n'),
    check: (h) => {
      assert.equal(h.addresses?.family, 'inet6');
      endpoints(h, ['2001:db8::1', 65535], ['2001:db8::2', 8443]);
    },
  },
  {
    name: 'v1 TCP6 with an IPv4-mapped source',
    bytes: ascii('PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n'),
    check: (h) => endpoints(h, ['::ffff:192.0.2.1', 1], ['::1', 2]),
  },
  { name: 'v1 the longest TCP6 line', bytes: ascii(longestV1), check: (h) => endpoints(h, ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535], ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535]) },
  { name: 'v1 UNKNOWN', bytes: ascii('PROXY UNKNOWN\r\n'), check: (h) => assert.equal(h.addresses, null) },
  { name: 'v1 UNKNOWN with ignored addresses', bytes: ascii('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n'), check: (h) => assert.equal(h.addresses, null) },
  { name: 'v1 UNKNOWN of exactly 107 bytes', bytes: ascii(unknownOf107), check: (h) => assert.equal(h.addresses, null) },
  {
    name: 'v2 PROXY TCP over IPv4',
    bytes: v2({ source: '203.0.113.7', destination: '10.0.0.1', sourcePort: 40000, destinationPort: 8443 }),
    check: (h) => {
      assert.equal(h.version, 2);
      assert.equal(h.command, 'proxy');
      assert.equal(h.addresses?.family, 'inet');
      assert.equal(h.addresses?.transport, 'stream');
      endpoints(h, ['203.0.113.7', 40000], ['10.0.0.1', 8443]);
      assert.deepEqual(h.tlvs, { others: [] });
    },
  },
  {
    name: 'v2 PROXY UDP over IPv4',
    bytes: v2({ family: 0x12 }),
    check: (h) => {
      assert.equal(h.addresses?.transport, 'dgram');
      endpoints(h, ['192.0.2.10', 51234], ['198.51.100.20', 8443]);
    },
  },
  {
    name: 'v2 PROXY TCP over IPv6',
    bytes: v2({ source: '2001:db8::7', destination: 'fe80::1:2', sourcePort: 1, destinationPort: 65535 }),
    check: (h) => {
      assert.equal(h.addresses?.family, 'inet6');
      endpoints(h, ['2001:db8::7', 1], ['fe80::1:2', 65535]);
    },
  },
  {
    name: 'v2 PROXY UDP over IPv6, mapped IPv4 source',
    bytes: v2({ family: 0x22, source: '::ffff:198.51.100.1', destination: '::' }),
    check: (h) => {
      assert.equal(h.addresses?.transport, 'dgram');
      endpoints(h, ['::ffff:198.51.100.1', 51234], ['::', 8443]);
    },
  },
  {
    name: 'v2 PROXY UNIX stream',
    bytes: v2({ family: 0x31, addressBlock: Buffer.concat([unixPath('/run/client.sock'), unixPath('/run/quay.sock')]) }),
    check: (h) => assert.deepEqual(h.addresses, { family: 'unix', transport: 'stream', source: '/run/client.sock', destination: '/run/quay.sock' }),
  },
  {
    name: 'v2 PROXY UNIX datagram, abstract source',
    bytes: v2({ family: 0x32, addressBlock: Buffer.concat([Buffer.concat([Buffer.from([0]), Buffer.from('lb'), Buffer.alloc(105)]), unixPath('/x')]) }),
    check: (h) => assert.deepEqual(h.addresses, { family: 'unix', transport: 'dgram', source: '@lb', destination: '/x' }),
  },
  {
    name: 'v2 PROXY AF_UNSPEC: no addresses, TLVs still read',
    bytes: v2({ family: 0x00, addressBlock: Buffer.alloc(0), tlvs: [text(0x02, 'quay.example.com')] }),
    check: (h) => {
      assert.equal(h.command, 'proxy');
      assert.equal(h.addresses, null);
      assert.equal(h.tlvs.authority, 'quay.example.com');
    },
  },
  {
    name: 'v2 LOCAL (a health check) with no payload',
    bytes: v2({ versionCommand: 0x20, family: 0x00, addressBlock: Buffer.alloc(0) }),
    check: (h) => {
      assert.equal(h.command, 'local');
      assert.equal(h.addresses, null);
    },
  },
  {
    name: 'v2 LOCAL ignores its addresses, family and TLVs',
    bytes: v2({ versionCommand: 0x20, family: 0xff, tlvs: [{ type: 0x03, value: Buffer.alloc(1) }] }),
    check: (h) => {
      assert.equal(h.command, 'local');
      assert.equal(h.addresses, null);
      assert.deepEqual(h.tlvs, { others: [] });
    },
  },
  { name: 'v2 ALPN TLV', bytes: v2({ tlvs: [text(0x01, 'h2')] }), check: (h) => assert.equal(h.tlvs.alpn, 'h2') },
  { name: 'v2 authority TLV (UTF-8)', bytes: v2({ tlvs: [text(0x02, 'régistre.example')] }), check: (h) => assert.equal(h.tlvs.authority, 'régistre.example') },
  {
    name: 'v2 CRC32C TLV that matches',
    bytes: v2({ crc: 'right' }),
    check: (h) => assert.equal(typeof h.tlvs.crc32c, 'number'),
  },
  {
    name: 'v2 CRC32C before other TLVs',
    bytes: (() => {
      const header = v2({ tlvs: [{ type: 0x03, value: Buffer.alloc(4) }, text(0x01, 'http/1.1')] });
      return withCrcAt(header, 16 + 12 + 3);
    })(),
    check: (h) => assert.equal(h.tlvs.alpn, 'http/1.1'),
  },
  { name: 'v2 NOOP padding is dropped', bytes: v2({ tlvs: [{ type: 0x04, value: Buffer.alloc(9) }, { type: 0x04, value: Buffer.alloc(0) }] }), check: (h) => assert.deepEqual(h.tlvs, { others: [] }) },
  {
    name: 'v2 unique id of 128 bytes',
    bytes: v2({ tlvs: [{ type: 0x05, value: Buffer.alloc(128, 0xab) }] }),
    check: (h) => assert.deepEqual(h.tlvs.uniqueId, Buffer.alloc(128, 0xab)),
  },
  {
    name: 'v2 SSL TLV with every sub-TLV',
    bytes: v2({
      tlvs: [
        sslTlv(0x07, 0, [
          text(0x21, 'TLSv1.3'),
          text(0x22, 'client.example'),
          text(0x23, 'TLS_AES_256_GCM_SHA384'),
          text(0x24, 'SHA256'),
          text(0x25, 'RSA2048'),
          { type: 0x26, value: Buffer.from([1, 2]) },
        ]),
      ],
    }),
    check: (h) =>
      assert.deepEqual(h.tlvs.ssl, {
        clientSsl: true,
        clientCertConnection: true,
        clientCertSession: true,
        verified: true,
        version: 'TLSv1.3',
        commonName: 'client.example',
        cipher: 'TLS_AES_256_GCM_SHA384',
        signatureAlgorithm: 'SHA256',
        keyAlgorithm: 'RSA2048',
        others: [{ type: 0x26, value: Buffer.from([1, 2]) }],
      }),
  },
  {
    name: 'v2 SSL TLV without sub-TLVs, client certificate not verified',
    bytes: v2({ tlvs: [sslTlv(0x01, 1, [])] }),
    check: (h) => assert.deepEqual(h.tlvs.ssl, { clientSsl: true, clientCertConnection: false, clientCertSession: false, verified: false, others: [] }),
  },
  { name: 'v2 NETNS TLV', bytes: v2({ tlvs: [text(0x30, 'blue')] }), check: (h) => assert.equal(h.tlvs.netns, 'blue') },
  {
    name: 'v2 AWS VPC endpoint id TLV',
    bytes: v2({ tlvs: [{ type: 0xea, value: Buffer.concat([Buffer.from([0x01]), Buffer.from('vpce-08d2bf15fac5001c9')]) }] }),
    check: (h) => assert.equal(h.tlvs.awsVpcEndpointId, 'vpce-08d2bf15fac5001c9'),
  },
  {
    name: 'v2 AWS TLV of another subtype is kept raw',
    bytes: v2({ tlvs: [{ type: 0xea, value: Buffer.from([0x02, 0x61]) }] }),
    check: (h) => assert.deepEqual(h.tlvs.others, [{ type: 0xea, value: Buffer.from([0x02, 0x61]) }]),
  },
  {
    name: 'v2 custom, experimental and future TLVs are kept in order',
    bytes: v2({ tlvs: [{ type: 0xe0, value: Buffer.from('a') }, { type: 0xf0, value: Buffer.alloc(0) }, { type: 0xff, value: Buffer.from('zz') }] }),
    check: (h) =>
      assert.deepEqual(h.tlvs.others, [
        { type: 0xe0, value: Buffer.from('a') },
        { type: 0xf0, value: Buffer.alloc(0) },
        { type: 0xff, value: Buffer.from('zz') },
      ]),
  },
  {
    name: 'v2 every TLV at once, with CRC32C',
    bytes: v2({
      source: '2001:db8::1',
      destination: '2001:db8::2',
      tlvs: [
        text(0x01, 'h2'),
        text(0x02, 'quay.example.com'),
        { type: 0x05, value: Buffer.from('conn-42') },
        sslTlv(0x01, 0, [text(0x21, 'TLSv1.2'), text(0x23, 'ECDHE-RSA-AES128-GCM-SHA256')]),
        text(0x30, 'ns'),
        { type: 0xea, value: Buffer.concat([Buffer.from([0x01]), Buffer.from('vpce-1')]) },
        { type: 0x04, value: Buffer.alloc(3) },
      ],
      crc: 'right',
    }),
    check: (h) => {
      assert.equal(h.tlvs.alpn, 'h2');
      assert.equal(h.tlvs.authority, 'quay.example.com');
      assert.deepEqual(h.tlvs.uniqueId, Buffer.from('conn-42'));
      assert.equal(h.tlvs.ssl?.version, 'TLSv1.2');
      assert.equal(h.tlvs.ssl?.cipher, 'ECDHE-RSA-AES128-GCM-SHA256');
      assert.equal(h.tlvs.netns, 'ns');
      assert.equal(h.tlvs.awsVpcEndpointId, 'vpce-1');
      assert.equal(typeof h.tlvs.crc32c, 'number');
    },
  },
  {
    name: 'v2 payload exactly at a raised cap',
    bytes: v2({ tlvs: [{ type: 0xe1, value: Buffer.alloc(10000 - 12 - 3) }] }),
    options: { maxV2PayloadLength: 10000 },
    check: (h) => assert.equal(h.tlvs.others[0]?.value.length, 10000 - 15),
  },
];

/** A header whose CRC32C TLV value sits at `at`, filled with the right checksum. */
function withCrcAt(header: Buffer, at: number): Buffer {
  const copy = Buffer.from(header);
  copy.fill(0, at, at + 4);
  let crc = 0xffffffff;
  for (const byte of copy) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  copy.writeUInt32BE((crc ^ 0xffffffff) >>> 0, at);
  return copy;
}

function withByte(bytes: Buffer, at: number, value: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] = value;
  return copy;
}

export const invalidCases: InvalidCase[] = [
  { name: 'an HTTP request', bytes: ascii('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), reason: /not a PROXY protocol header/ },
  { name: 'a TLS ClientHello', bytes: Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]), reason: /not a PROXY protocol header/ },
  { name: 'v1 lower case', bytes: ascii('proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n'), reason: /not a PROXY protocol header/ },
  { name: 'v1 "PROXY" without a space', bytes: ascii('PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n'), reason: /not a PROXY protocol header/ },
  { name: 'v1 unknown protocol', bytes: ascii('PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n'), reason: /unknown protocol "UDP4"/ },
  { name: 'v1 UNKNOWN glued to more text', bytes: ascii('PROXY UNKNOWNX\r\n'), reason: /unknown protocol/ },
  { name: 'v1 too few fields', bytes: ascii('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'), reason: /exactly 4 fields/ },
  { name: 'v1 too many fields', bytes: ascii('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n'), reason: /exactly 4 fields/ },
  { name: 'v1 double space', bytes: ascii('PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n'), reason: /exactly 4 fields|more than 4 fields/ },
  { name: 'v1 trailing space', bytes: ascii('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n'), reason: /exactly 4 fields/ },
  { name: 'v1 nothing after PROXY', bytes: ascii('PROXY \r\n'), reason: /unknown protocol ""/ },
  { name: 'v1 IPv4 with a leading zero', bytes: ascii('PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n'), reason: /invalid source address "01.2.3.4"/ },
  { name: 'v1 IPv4 octet above 255', bytes: ascii('PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n'), reason: /invalid destination address/ },
  { name: 'v1 IPv4 with 3 octets', bytes: ascii('PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n'), reason: /invalid source address/ },
  { name: 'v1 TCP4 carrying IPv6', bytes: ascii('PROXY TCP4 ::1 ::1 1 2\r\n'), reason: /invalid source address/ },
  { name: 'v1 TCP6 carrying IPv4', bytes: ascii('PROXY TCP6 1.2.3.4 ::1 1 2\r\n'), reason: /TCP6 header has an invalid source address/ },
  { name: 'v1 TCP6 with a zone id', bytes: ascii('PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n'), reason: /not part of an address|invalid source address/ },
  { name: 'v1 TCP6 with two "::"', bytes: ascii('PROXY TCP6 1::2::3 ::1 1 2\r\n'), reason: /invalid source address/ },
  { name: 'v1 TCP6 with 9 groups', bytes: ascii('PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n'), reason: /invalid source address/ },
  { name: 'v1 port above 65535', bytes: ascii('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'), reason: /invalid source port "65536"/ },
  { name: 'v1 port with a leading zero', bytes: ascii('PROXY TCP4 1.2.3.4 5.6.7.8 1 080\r\n'), reason: /invalid destination port "080"/ },
  { name: 'v1 negative port', bytes: ascii('PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n'), reason: /invalid source port "-1"/ },
  { name: 'v1 CR without LF', bytes: ascii('PROXY UNKNOWN\rX'), reason: /CR not followed by LF/ },
  { name: 'v1 bare LF', bytes: ascii('PROXY UNKNOWN\n'), reason: /non-printable byte 0x0a/ },
  { name: 'v1 NUL byte', bytes: ascii('PROXY TCP4 1.2.3.4\x00'), reason: /non-printable byte 0x00 at offset 18/ },
  { name: 'v1 UNKNOWN of 108 bytes', bytes: ascii(`PROXY UNKNOWN ${'x'.repeat(92)}\r\n`), reason: /no CRLF within 107 bytes/ },
  { name: 'v1 no CRLF within 107 bytes', bytes: ascii(`PROXY UNKNOWN ${'x'.repeat(200)}`), reason: /no CRLF within 107 bytes/ },
  ...Array.from({ length: 12 }, (_, i) => ({ name: `v2 signature byte ${i} wrong`, bytes: withByte(v2(), i, v2()[i]! ^ 0x40), reason: i === 0 ? /not a PROXY protocol header/ : /bad v2 signature/ })),
  { name: 'v2 version 1', bytes: v2({ versionCommand: 0x11 }), reason: /unsupported v2 version 1/ },
  { name: 'v2 version 3', bytes: v2({ versionCommand: 0x31 }), reason: /unsupported v2 version 3/ },
  { name: 'v2 command 2', bytes: v2({ versionCommand: 0x22 }), reason: /unknown v2 command 0x2/ },
  { name: 'v2 command 0xf', bytes: v2({ versionCommand: 0x2f }), reason: /unknown v2 command 0xf/ },
  ...[0x01, 0x02, 0x10, 0x13, 0x20, 0x23, 0x30, 0x33, 0x41, 0xff].map((family) => ({
    name: `v2 PROXY with family/transport 0x${family.toString(16)}`,
    bytes: v2({ family }),
    reason: /unknown v2 address family\/transport/,
  })),
  { name: 'v2 length above the default cap', bytes: v2({ tlvs: [{ type: 0xe0, value: Buffer.alloc(4096) }] }), reason: /announces 4111 bytes, more than the 4096 accepted/ },
  { name: 'v2 length 65535 refused before its bytes arrive', bytes: Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]), reason: /announces 65535 bytes/ },
  { name: 'v2 length above a lowered cap', bytes: v2(), options: { maxV2PayloadLength: 11 }, reason: /more than the 11 accepted/ },
  { name: 'v2 IPv4 length too short for its addresses', bytes: v2({ length: 11 }).subarray(0, 27), reason: /too short for its addresses \(12\)/ },
  { name: 'v2 IPv6 length too short for its addresses', bytes: v2({ source: '::1', destination: '::2', length: 35 }).subarray(0, 16 + 35), reason: /too short for its addresses \(36\)/ },
  { name: 'v2 UNIX length too short for its addresses', bytes: v2({ family: 0x31, length: 12 }).subarray(0, 28), reason: /too short for its addresses \(216\)/ },
  { name: 'v2 TLV header cut short', bytes: v2({ addressBlock: Buffer.concat([Buffer.alloc(12), Buffer.from([0x01, 0x00])]) }), reason: /ends inside a TLV header/ },
  { name: 'v2 TLV value past the end', bytes: v2({ addressBlock: Buffer.concat([Buffer.alloc(12), Buffer.from([0x01, 0x00, 0x05, 0x68, 0x32])]) }), reason: /TLV 0x01 is 5 bytes long, past the end/ },
  { name: 'v2 CRC32C mismatch', bytes: v2({ crc: 'wrong' }), reason: /CRC32C does not match/ },
  { name: 'v2 CRC32C mismatch after a flipped address bit', bytes: withByte(v2({ crc: 'right' }), 17, v2({ crc: 'right' })[17]! ^ 1), reason: /CRC32C does not match/ },
  { name: 'v2 CRC32C of 3 bytes', bytes: v2({ tlvs: [{ type: 0x03, value: Buffer.alloc(3) }] }), reason: /CRC32C TLV is 3 bytes long, not 4/ },
  { name: 'v2 two CRC32C TLVs', bytes: v2({ tlvs: [{ type: 0x03, value: Buffer.alloc(4) }, { type: 0x03, value: Buffer.alloc(4) }] }), reason: /repeats TLV 0x03/ },
  { name: 'v2 two ALPN TLVs', bytes: v2({ tlvs: [text(0x01, 'h2'), text(0x01, 'http/1.1')] }), reason: /repeats TLV 0x01/ },
  { name: 'v2 empty ALPN', bytes: v2({ tlvs: [text(0x01, '')] }), reason: /ALPN TLV is empty/ },
  { name: 'v2 authority not UTF-8', bytes: v2({ tlvs: [{ type: 0x02, value: Buffer.from([0xc3, 0x28]) }] }), reason: /authority TLV is empty or not valid UTF-8/ },
  { name: 'v2 empty authority', bytes: v2({ tlvs: [text(0x02, '')] }), reason: /authority TLV is empty/ },
  { name: 'v2 unique id of 129 bytes', bytes: v2({ tlvs: [{ type: 0x05, value: Buffer.alloc(129) }] }), reason: /unique id TLV is 129 bytes long, more than 128/ },
  { name: 'v2 SSL TLV shorter than 5 bytes', bytes: v2({ tlvs: [{ type: 0x20, value: Buffer.alloc(4) }] }), reason: /SSL TLV is 4 bytes long, shorter than 5/ },
  { name: 'v2 SSL sub-TLV past the end', bytes: v2({ tlvs: [{ type: 0x20, value: Buffer.concat([Buffer.alloc(5), Buffer.from([0x21, 0x00, 0x09, 0x41])]) }] }), reason: /SSL sub-TLV 0x21 is 9 bytes long, past the end/ },
  { name: 'v2 SSL sub-TLV repeated', bytes: v2({ tlvs: [sslTlv(1, 0, [text(0x22, 'a'), text(0x22, 'b')])] }), reason: /SSL TLV repeats sub-TLV 0x22/ },
  { name: 'v2 SSL CN not UTF-8', bytes: v2({ tlvs: [sslTlv(1, 0, [{ type: 0x22, value: Buffer.from([0xff]) }])] }), reason: /SSL sub-TLV 0x22 is not valid UTF-8/ },
  { name: 'v2 SSL sub-TLV at the top level', bytes: v2({ tlvs: [text(0x21, 'TLSv1.3')] }), reason: /appears outside an SSL TLV/ },
  { name: 'v2 netns not UTF-8', bytes: v2({ tlvs: [{ type: 0x30, value: Buffer.from([0xfe]) }] }), reason: /netns TLV is not valid UTF-8/ },
  { name: 'v2 empty AWS VPC endpoint id', bytes: v2({ tlvs: [{ type: 0xea, value: Buffer.from([0x01]) }] }), reason: /VPC endpoint id TLV is empty/ },
  {
    name: 'v2 AWS VPC endpoint id repeated',
    bytes: v2({ tlvs: [{ type: 0xea, value: Buffer.from('\x01vpce-a') }, { type: 0xea, value: Buffer.from('\x01vpce-b') }] }),
    reason: /repeats the AWS VPC endpoint id TLV/,
  },
];

