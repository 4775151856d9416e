import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { blobPath, computeDigest, digestMatches, isValidDigest, parseDigest, sha256Digest } from '../../src/oci/digest.js';

const HEX64 = 'a'.repeat(62) + '0f';
const HEX128 = '0123456789abcdef'.repeat(8);

describe('parseDigest', () => {
  it('accepts sha256 and sha512 with lowercase hex of the exact length', () => {
    assert.deepEqual(parseDigest(`sha256:${HEX64}`), { algorithm: 'sha256', hex: HEX64, digest: `sha256:${HEX64}` });
    assert.deepEqual(parseDigest(`sha512:${HEX128}`), { algorithm: 'sha512', hex: HEX128, digest: `sha512:${HEX128}` });
  });

  const bad: Array<[string, string]> = [
    ['empty string', ''],
    ['missing colon', `sha256${HEX64}`],
    ['missing algorithm', `:${HEX64}`],
    ['missing hex', 'sha256:'],
    ['upper-case hex', `sha256:${HEX64.toUpperCase()}`],
    ['one upper-case hex digit', `sha256:${'a'.repeat(63)}F`],
    ['upper-case algorithm', `SHA256:${HEX64}`],
    ['hex one short', `sha256:${HEX64.slice(1)}`],
    ['hex one long', `sha256:${HEX64}0`],
    ['sha256 with sha512 length', `sha256:${HEX128}`],
    ['sha512 with sha256 length', `sha512:${HEX64}`],
    ['unknown algorithm', `sha384:${'a'.repeat(96)}`],
    ['md5', `md5:${'a'.repeat(32)}`],
    ['blake3 (valid in the OCI grammar, not accepted here)', `blake3:${HEX64}`],
    ['non-hex character', `sha256:${'g'.repeat(64)}`],
    ['leading space', ` sha256:${HEX64}`],
    ['trailing newline', `sha256:${HEX64}\n`],
    ['two colons', `sha256::${HEX64}`],
    ['algorithm with separator', `sha256+b64:${HEX64}`],
    ['base64 encoding', 'sha256:' + Buffer.alloc(32).toString('base64')],
    ['path traversal', `sha256:../../${HEX64.slice(6)}`],
    ['unicode digits', `sha256:${'٣'.repeat(64)}`],
    ['huge', `sha256:${'a'.repeat(100000)}`],
  ];
  for (const [label, value] of bad) {
    it(`rejects ${label}`, () => {
      assert.equal(parseDigest(value), undefined);
      assert.equal(isValidDigest(value), false);
    });
  }

  it('returns undefined for non-strings smuggled past the type system', () => {
    for (const value of [undefined, null, 42, {}, ['sha256:' + HEX64]]) {
      assert.equal(parseDigest(value as unknown as string), undefined);
    }
  });
});

describe('sha256Digest / computeDigest / digestMatches', () => {
  it('hashes bytes and strings (UTF-8) the same way node:crypto does', () => {
    const expected = 'sha256:' + createHash('sha256').update('héllo').digest('hex');
    assert.equal(sha256Digest('héllo'), expected);
    assert.equal(sha256Digest(Buffer.from('héllo', 'utf8')), expected);
  });

  it('knows the digest of the empty blob and of the empty JSON object', () => {
    assert.equal(sha256Digest(''), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(sha256Digest('{}'), 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
  });

  it('computes sha512 digests that parseDigest accepts', () => {
    const digest = computeDigest('sha512', 'x');
    assert.ok(isValidDigest(digest));
    assert.equal(digest, 'sha512:' + createHash('sha512').update('x').digest('hex'));
  });

  it('digestMatches checks content under the digest algorithm', () => {
    assert.equal(digestMatches(sha256Digest('a'), 'a'), true);
    assert.equal(digestMatches(sha256Digest('a'), 'b'), false);
    assert.equal(digestMatches(computeDigest('sha512', 'a'), 'a'), true);
    assert.equal(digestMatches('not-a-digest', 'a'), false);
  });
});

describe('blobPath', () => {
  it('splits on the first two hex characters', () => {
    assert.equal(blobPath(`sha256:${HEX64}`), `sha256/aa/${HEX64}`);
    assert.equal(blobPath(`sha512:${HEX128}`), `sha512/01/${HEX128}`);
  });

  for (const value of ['', 'sha256:../../etc/passwd', `SHA256:${HEX64}`, `sha256:${HEX64.toUpperCase()}`, 'sha256']) {
    it(`throws on invalid digest ${JSON.stringify(value.slice(0, 30))}`, () => {
      assert.throws(() => blobPath(value), TypeError);
    });
  }
});
