import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProxyHeader } from '../../src/proxyproto/parse.js';
import { encodeTlv, SIGNATURE, text } from './build-header.js';
import { ascii, invalidCases, validCases } from './corpus.js';

function reasonOf(bytes: Buffer): string {
  const result = parseProxyHeader(bytes);
  assert.ok(result.status === 'invalid', `expected invalid, got ${result.status}`);
  return result.reason;
}

describe('parseProxyHeader: valid headers', () => {
  for (const c of validCases) {
    it(c.name, () => {
      const result = parseProxyHeader(c.bytes, c.options);
      assert.equal(result.status, 'complete', result.status === 'invalid' ? result.reason : 'incomplete');
      assert.ok(result.status === 'complete');
      assert.equal(result.length, c.bytes.length);
      c.check(result.header);
    });
  }

  it('every strict prefix of every valid header asks for more', () => {
    for (const c of validCases) {
      for (let n = 0; n < c.bytes.length; n++) {
        const result = parseProxyHeader(c.bytes.subarray(0, n), c.options);
        assert.deepEqual(result, { status: 'incomplete' }, `${c.name}: prefix of ${n} bytes gave ${JSON.stringify(result)}`);
      }
    }
  });

  it('the bytes after a header are left to the stream, whatever they are', () => {
    const tails = [ascii('GET / HTTP/1.1\r\n\r\n'), Buffer.from([0x16, 0x03, 0x01]), ascii('PROXY TCP4 9.9.9.9 9.9.9.9 9 9\r\n'), Buffer.alloc(70000, 0xee)];
    for (const c of validCases) {
      const alone = parseProxyHeader(c.bytes, c.options);
      for (const tail of tails) {
        const result = parseProxyHeader(Buffer.concat([c.bytes, tail]), c.options);
        assert.deepEqual(result, alone, `${c.name} followed by ${tail.length} bytes`);
      }
    }
  });

  it('accepts a header that starts inside a larger buffer', () => {
    const c = validCases.find((v) => v.name === 'v2 every TLV at once, with CRC32C')!;
    const big = Buffer.concat([Buffer.alloc(7), c.bytes]).subarray(7);
    assert.equal(parseProxyHeader(big).status, 'complete');
  });
});

describe('parseProxyHeader: invalid headers', () => {
  for (const c of invalidCases) {
    it(c.name, () => {
      const result = parseProxyHeader(c.bytes, c.options);
      assert.equal(result.status, 'invalid', `expected invalid, got ${JSON.stringify(result)}`);
      assert.ok(result.status === 'invalid');
      assert.match(result.reason, c.reason);
    });
  }

  it('no prefix of an invalid header is ever complete, and once invalid stays invalid', () => {
    for (const c of invalidCases) {
      let invalidFrom = -1;
      for (let n = 0; n <= c.bytes.length; n++) {
        const status = parseProxyHeader(c.bytes.subarray(0, n), c.options).status;
        assert.notEqual(status, 'complete', `${c.name}: prefix of ${n} bytes is complete`);
        if (status === 'invalid' && invalidFrom < 0) invalidFrom = n;
        if (invalidFrom >= 0) assert.equal(status, 'invalid', `${c.name}: invalid at ${invalidFrom} bytes, not at ${n}`);
      }
    }
  });

  it('refuses garbage as soon as the first bytes show it', () => {
    assert.equal(parseProxyHeader(ascii('G')).status, 'invalid');
    assert.equal(parseProxyHeader(ascii('PROXY X')).status, 'invalid');
    assert.equal(parseProxyHeader(Buffer.from([0x0d, 0x0a, 0x0d, 0x0b])).status, 'invalid');
    assert.equal(parseProxyHeader(Buffer.concat([SIGNATURE, Buffer.from([0x11])])).status, 'invalid');
    assert.match(reasonOf(ascii('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3')), /more than 4 fields/);
    assert.match(reasonOf(ascii('PROXY TCP6 fe80::1%')), /not part of an address or port/);
    assert.match(reasonOf(ascii('PROXY TCP5')), /unknown protocol "TCP5"/);
    assert.match(reasonOf(Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0x00, 0x0b])])), /too short for its addresses/);
  });
});

describe('parseProxyHeader: TLV encoding helper agrees with the spec example layout', () => {
  it('an ALPN TLV is type, 16-bit length, value', () => {
    assert.deepEqual(encodeTlv(text(0x01, 'h2')), Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32]));
  });
});
