// Fuzzes the PROXY parser with random and mutated headers. PROXYPROTO_FUZZ_COUNT sets how many inputs
// (default 100000); PROXYPROTO_FUZZ_SEED replays a run (the seed is in every failure message).
import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import { describe, it } from 'node:test';
import { formatIpv6, parseIpv4, parseIpv6 } from '../../src/proxyproto/addresses.js';
import { maxHeaderLength, parseProxyHeader, type ProxyParseResult } from '../../src/proxyproto/parse.js';
import { SIGNATURE, sslTlv, text, v2, type Tlv } from './build-header.js';
import { invalidCases, validCases } from './corpus.js';

const COUNT = Number(process.env.PROXYPROTO_FUZZ_COUNT ?? 100_000);
const SEED = Number(process.env.PROXYPROTO_FUZZ_SEED ?? Date.now() % 2 ** 31);

/** mulberry32: small, seedable, good enough to spread inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(SEED);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));

const seeds = [...validCases.map((c) => c.bytes), ...invalidCases.map((c) => c.bytes)];

function mutate(input: Buffer): Buffer {
  let out = Buffer.from(input);
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    const at = int(out.length + 1);
    switch (int(8)) {
      case 0: // flip a bit
        if (out.length) out[at % out.length]! ^= 1 << int(8);
        break;
      case 1: // set a byte
        if (out.length) out[at % out.length] = pick([0, 0x0a, 0x0d, 0x20, 0x3a, 0xff, int(256)]);
        break;
      case 2: // insert bytes
        out = Buffer.concat([out.subarray(0, at), bytes(1 + int(4)), out.subarray(at)]);
        break;
      case 3: // delete bytes
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + int(4))]);
        break;
      case 4: // truncate
        out = out.subarray(0, at);
        break;
      case 5: // rewrite the v2 length field
        if (out.length >= 16) out.writeUInt16BE(pick([0, 1, 11, 12, 35, 36, 215, 216, 4096, 4097, 0xffff, int(0x10000)]), 14);
        break;
      case 6: // splice another seed in
        out = Buffer.concat([out.subarray(0, at), pick(seeds).subarray(int(40))]);
        break;
      default: // append garbage
        out = Buffer.concat([out, bytes(int(64))]);
    }
  }
  return out;
}

function randomInput(): Buffer {
  switch (int(4)) {
    case 0:
      return Buffer.concat([pick([Buffer.from('P'), Buffer.from('PROXY '), SIGNATURE.subarray(0, 1 + int(12)), Buffer.alloc(0)]), bytes(int(300))]);
    case 1:
      return Buffer.from(`PROXY ${pick(['TCP4', 'TCP6', 'UNKNOWN', 'TCP'])} ${Array.from({ length: int(7) }, () => pick(['1.2.3.4', '::1', '65535', '0', '00', 'ffff::', '256.1.1.1', ''])).join(pick([' ', '  ']))}${pick(['\r\n', '\r', '\n', ''])}`, 'latin1');
    default:
      return mutate(pick(seeds));
  }
}

/** A random well-formed v2 header and what the parser must read from it. */
function randomValidV2(): { bytes: Buffer; check: (r: ProxyParseResult) => void } {
  const six = random() < 0.5;
  const address = () => (six ? formatIpv6(bytes(16)) : Array.from({ length: 4 }, () => int(256)).join('.'));
  const source = address();
  const destination = address();
  const sourcePort = int(65536);
  const destinationPort = int(65536);
  const tlvs: Tlv[] = [];
  const alpn = random() < 0.5 ? pick(['h2', 'http/1.1', 'x'.repeat(1 + int(200))]) : undefined;
  if (alpn) tlvs.push(text(0x01, alpn));
  const authority = random() < 0.5 ? `host${int(1000)}.example` : undefined;
  if (authority) tlvs.push(text(0x02, authority));
  const uniqueId = random() < 0.5 ? bytes(int(129)) : undefined;
  if (uniqueId) tlvs.push({ type: 0x05, value: uniqueId });
  const cn = random() < 0.5 ? `cn-${int(100)}` : undefined;
  if (random() < 0.5) tlvs.push(sslTlv(int(8), int(2), cn ? [text(0x22, cn)] : []));
  for (let i = int(3); i > 0; i--) tlvs.push({ type: pick([0x04, 0xe0, 0xf1, 0xff]), value: bytes(int(20)) });
  tlvs.sort(() => random() - 0.5);
  const withCrc = random() < 0.5;
  const header = v2({ source, destination, sourcePort, destinationPort, tlvs, family: six ? 0x21 : 0x11, ...(withCrc ? { crc: 'right' as const } : {}) });
  return {
    bytes: header,
    check: (r) => {
      assert.ok(r.status === 'complete', `valid generated header refused: ${JSON.stringify(r)}`);
      assert.equal(r.length, header.length);
      const a = r.header.addresses;
      assert.ok(a && a.family !== 'unix');
      assert.deepEqual([a.source, a.destination], [
        { address: source, port: sourcePort },
        { address: destination, port: destinationPort },
      ]);
      assert.equal(r.header.tlvs.alpn, alpn);
      assert.equal(r.header.tlvs.authority, authority);
      assert.deepEqual(r.header.tlvs.uniqueId, uniqueId);
      if (cn) assert.ok(r.header.tlvs.ssl === undefined || r.header.tlvs.ssl.commonName === cn);
      assert.equal(r.header.tlvs.crc32c !== undefined, withCrc);
    },
  };
}

/** What must hold for any input, whatever the parser answered. */
function checkInvariants(input: Buffer): void {
  const result = parseProxyHeader(input);
  const cap = maxHeaderLength();
  switch (result.status) {
    case 'incomplete':
      assert.ok(input.length < cap, `incomplete after ${input.length} bytes, more than the cap ${cap}`);
      break;
    case 'invalid':
      assert.ok(result.reason.length > 0 && result.reason.length < 200 && !result.reason.includes('\n'), `reason not one short line: ${result.reason}`);
      // Nothing that follows can rescue an invalid header.
      assert.equal(parseProxyHeader(Buffer.concat([input, bytes(1 + int(8))])).status, 'invalid', 'invalid became valid with more bytes');
      break;
    case 'complete': {
      assert.ok(result.length > 0 && result.length <= input.length && result.length <= cap);
      assert.equal(result.header.version, input[0] === 0x50 ? 1 : 2);
      if (result.header.version === 1) assert.equal(input.subarray(result.length - 2, result.length).toString('latin1'), '\r\n');
      // The header is read from its own bytes only, and every shorter prefix asks for more.
      assert.deepEqual(parseProxyHeader(input.subarray(0, result.length)), result);
      assert.deepEqual(parseProxyHeader(input.subarray(0, int(result.length))), { status: 'incomplete' });
      break;
    }
    default:
      assert.fail(`unknown status ${JSON.stringify(result)}`);
  }
}

describe(`PROXY parser fuzz (${COUNT} inputs, seed ${SEED})`, () => {
  it('random and mutated inputs never throw and keep the parser invariants', () => {
    const tally = { complete: 0, incomplete: 0, invalid: 0 };
    for (let i = 0; i < COUNT; i++) {
      const input = randomInput();
      try {
        checkInvariants(input);
      } catch (error) {
        throw new Error(`seed ${SEED}, input ${i} (${input.toString('hex')}): ${error instanceof Error ? error.message : String(error)}`);
      }
      tally[parseProxyHeader(input).status]++;
    }
    // The generator must reach every outcome, or the fuzzing proves little.
    for (const [status, n] of Object.entries(tally)) assert.ok(n > COUNT / 1000, `only ${n} ${status} results: ${JSON.stringify(tally)}`);
  });

  it('random well-formed v2 headers are read back exactly', () => {
    for (let i = 0; i < Math.max(1000, COUNT / 20); i++) {
      const { bytes: header, check } = randomValidV2();
      try {
        check(parseProxyHeader(header));
      } catch (error) {
        throw new Error(`seed ${SEED}, header ${header.toString('hex')}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  });

  it('IPv6 and IPv4 text parsing agrees with node:net and round-trips', () => {
    const alphabet = '0123456789abcdefABCDEF:.';
    for (let i = 0; i < Math.max(1000, COUNT / 5); i++) {
      const raw = bytes(16);
      for (let j = int(16); j > 0; j--) raw[int(16)] = 0;
      const formatted = formatIpv6(raw);
      assert.deepEqual(parseIpv6(formatted), new Uint8Array(raw), `seed ${SEED}: ${formatted}`);
      if (!formatted.includes('.')) {
        assert.equal(formatted, new URL(`http://[${formatted}]/`).hostname.slice(1, -1), `seed ${SEED}: not canonical`);
      }
      const noise = Array.from({ length: 1 + int(45) }, () => pick([...alphabet])).join('');
      assert.equal(parseIpv6(noise) !== null, isIPv6(noise), `seed ${SEED}: parseIpv6(${JSON.stringify(noise)})`);
      const v4 = Array.from({ length: 1 + int(15) }, () => pick([...'0123456789.'])).join('');
      assert.equal(parseIpv4(v4) !== null, isIPv4(v4), `seed ${SEED}: parseIpv4(${JSON.stringify(v4)})`);
    }
  });
});
