import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { HashStateError, ResumableSha256 } from '../../src/registry/resumable-sha256.js';

const hex = (bytes: Buffer) => bytes.toString('hex');
const nativeHex = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** i % 251 for 1 MiB: a prime period, so no 64-byte block repeats at a block-aligned distance. */
const mibPattern = Buffer.alloc(1024 * 1024);
for (let i = 0; i < mibPattern.length; i += 1) mibPattern[i] = i % 251;

// FIPS 180-2 / NIST CSRC examples, plus a 1 MiB pattern whose digest sha256sum gave.
const VECTORS: { name: string; message: Buffer; digest: string }[] = [
  { name: 'empty', message: Buffer.alloc(0), digest: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
  { name: "'abc'", message: Buffer.from('abc'), digest: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
  {
    name: '448-bit message',
    message: Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'),
    digest: '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  },
  {
    name: '896-bit message',
    message: Buffer.from('abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu'),
    digest: 'cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1',
  },
  { name: "a million 'a'", message: Buffer.alloc(1_000_000, 'a'), digest: 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0' },
  { name: '1 MiB of i % 251', message: mibPattern, digest: '631b84027d6b9e52b539c4e8373622d23032dfadc64d60af87339c9037e4f769' },
];

/** A small seeded generator (xorshift32), so a failing random split can be replayed from its seed. */
function generator(seed: number): (below: number) => number {
  let x = seed >>> 0 || 1;
  return (below) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % below;
  };
}

/** The digest of `message` hashed in pieces ending at `cuts`, the state saved and reloaded at every cut. */
function hashAcross(message: Buffer, cuts: number[]): string {
  let hash = ResumableSha256.fresh();
  let at = 0;
  for (const cut of [...cuts, message.length]) {
    hash.update(message.subarray(at, cut));
    at = cut;
    // A copy, as another process would read it back from the database.
    hash = ResumableSha256.load(Uint8Array.from(hash.save()));
  }
  return hex(hash.digest());
}

/** The digest of `message` fed in pieces of `size` bytes, without saving. */
function hashInPieces(message: Buffer, size: number): string {
  const hash = ResumableSha256.fresh();
  for (let at = 0; at < message.length; at += size) hash.update(message.subarray(at, at + size));
  return hex(hash.digest());
}

describe('resumable SHA-256: known answers', () => {
  for (const vector of VECTORS) {
    it(`${vector.name}: one update, pieces of 1..130 bytes, and a save/load at every point 0..130`, () => {
      assert.equal(nativeHex(vector.message), vector.digest, 'the vector itself is right');
      const whole = ResumableSha256.fresh();
      whole.update(vector.message);
      assert.equal(hex(whole.digest()), vector.digest);
      for (let size = 1; size <= 130; size += 1) assert.equal(hashInPieces(vector.message, size), vector.digest, `pieces of ${size}`);
      const last = vector.message.length;
      for (let cut = 0; cut <= Math.min(130, last); cut += 1) {
        assert.equal(hashAcross(vector.message, [cut]), vector.digest, `saved after ${cut} bytes`);
        assert.equal(hashAcross(vector.message, [last - cut]), vector.digest, `saved ${cut} bytes before the end`);
      }
    });
  }

  it('small messages saved and loaded between every piece of every size 1..130', () => {
    for (const vector of VECTORS.filter((v) => v.message.length <= 200)) {
      for (let size = 1; size <= 130; size += 1) {
        const cuts: number[] = [];
        for (let at = size; at < vector.message.length; at += size) cuts.push(at);
        assert.equal(hashAcross(vector.message, cuts), vector.digest, `${vector.name}, saved every ${size} bytes`);
      }
    }
  });
});

describe('resumable SHA-256: random splits', () => {
  it('saved and loaded at random points of random data, the native digest every time', () => {
    const seed = randomBytes(4).readUInt32BE(0);
    const random = generator(seed);
    for (let round = 0; round < 300; round += 1) {
      const message = randomBytes(random(3 * 65_536));
      const cuts = Array.from({ length: random(12) }, () => random(message.length + 1)).sort((a, b) => a - b);
      assert.equal(hashAcross(message, cuts), nativeHex(message), `seed ${seed}, round ${round}, cuts ${cuts.join(',')}`);
    }
  });

  it('the 1 MiB pattern saved at random points, with pieces of random sizes in between', () => {
    const seed = randomBytes(4).readUInt32BE(0);
    const random = generator(seed);
    for (let round = 0; round < 20; round += 1) {
      let hash = ResumableSha256.fresh();
      let at = 0;
      while (at < mibPattern.length) {
        const piece = random(round % 2 === 0 ? 200 : 100_000) + 1;
        hash.update(mibPattern.subarray(at, at + piece));
        at += piece;
        if (random(4) === 0) hash = ResumableSha256.load(hash.save());
      }
      assert.equal(hex(hash.digest()), VECTORS[5]?.digest, `seed ${seed}, round ${round}`);
    }
  });

  it('a saved hash goes on unchanged, and one state continues in two places to the same digest', () => {
    const data = randomBytes(10_007);
    const hash = ResumableSha256.fresh();
    hash.update(data.subarray(0, 5000));
    const state = hash.save();
    hash.update(data.subarray(5000));
    const elsewhere = ResumableSha256.load(state);
    elsewhere.update(data.subarray(5000));
    assert.equal(hex(hash.digest()), nativeHex(data));
    assert.equal(hex(elsewhere.digest()), nativeHex(data));
  });
});

const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/** A state written from the documented format (native/resumable_sha256.c), not by the addon. */
function stateOf(version: number, words: number[], total: bigint, pending: Buffer): Buffer {
  const body = Buffer.alloc(41 + pending.length);
  body[0] = version;
  words.forEach((word, i) => body.writeUInt32BE(word, 1 + 4 * i));
  body.writeBigUInt64BE(total, 33);
  pending.copy(body, 41);
  return Buffer.concat([body, createHash('sha256').update(body).digest().subarray(0, 8)]);
}

describe('resumable SHA-256: the saved format', () => {
  it('is the documented layout: version 1, big-endian chaining words, byte count, pending bytes, check', () => {
    const hash = ResumableSha256.fresh();
    assert.deepEqual(hash.save(), stateOf(1, IV, 0n, Buffer.alloc(0)));
    hash.update(Buffer.from('abc'));
    assert.deepEqual(hash.save(), stateOf(1, IV, 3n, Buffer.from('abc')));
    const block = randomBytes(64 * 3 + 5);
    const long = ResumableSha256.fresh();
    long.update(block);
    const state = long.save();
    assert.equal(state.length, 41 + 5 + 8);
    assert.equal(state.readBigUInt64BE(33), BigInt(block.length));
    assert.deepEqual(state.subarray(41, 46), block.subarray(64 * 3));
  });

  it('a state written by hand from the format continues to the right digest', () => {
    const hash = ResumableSha256.load(stateOf(1, IV, 3n, Buffer.from('abc')));
    assert.equal(hex(hash.digest()), VECTORS[1]?.digest);
    // The chaining words after the first 64 bytes, taken from a saved state, then the rest by hand.
    const message = VECTORS[3]?.message ?? Buffer.alloc(0);
    const first = ResumableSha256.fresh();
    first.update(message.subarray(0, 64));
    const saved = first.save();
    const words = Array.from({ length: 8 }, (_, i) => saved.readUInt32BE(1 + 4 * i));
    const continued = ResumableSha256.load(stateOf(1, words, BigInt(message.length), message.subarray(64)));
    assert.equal(hex(continued.digest()), VECTORS[3]?.digest);
  });

  it('refuses short, long, damaged and wrong-version states with a HashStateError', () => {
    const good = stateOf(1, IV, 3n, Buffer.from('abc'));
    const refused = (state: Uint8Array, message: RegExp) =>
      assert.throws(() => ResumableSha256.load(state), (error: unknown) => error instanceof HashStateError && message.test(error.message));
    refused(Buffer.alloc(0), /too short/);
    refused(good.subarray(0, 48), /too short/);
    refused(good.subarray(0, good.length - 1), /length does not match/);
    refused(Buffer.concat([good, Buffer.of(0)]), /length does not match/);
    refused(stateOf(2, IV, 3n, Buffer.from('abc')), /unknown version/);
    refused(stateOf(0, IV, 3n, Buffer.from('abc')), /unknown version/);
    refused(stateOf(1, IV, 4n, Buffer.from('abc')), /length does not match/);
    refused(stateOf(1, IV, 1n << 61n, Buffer.alloc(0)), /more bytes than SHA-256 allows/);
    refused(stateOf(1, IV, 0xffffffffffffffffn, Buffer.alloc(63)), /more bytes than SHA-256 allows/);
    for (let bit = 8; bit < good.length * 8; bit += 1) {
      const damaged = Buffer.from(good);
      damaged[bit >> 3] ^= 1 << (bit & 7);
      assert.throws(() => ResumableSha256.load(damaged), HashStateError, `bit ${bit} flipped`);
    }
  });

  it('random bytes are refused, never a crash', () => {
    for (let round = 0; round < 5000; round += 1) {
      const junk = randomBytes(round % 130);
      if (round % 3 === 0 && junk.length > 0) junk[0] = 1;
      assert.throws(() => ResumableSha256.load(junk), HashStateError);
    }
  });

  it('refuses what is not bytes, and a finished hash', () => {
    assert.throws(() => ResumableSha256.load('state' as unknown as Uint8Array), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => ResumableSha256.load(new Uint16Array(30) as unknown as Uint8Array), { name: 'TypeError' });
    const hash = ResumableSha256.fresh();
    assert.throws(() => hash.update(123 as unknown as Uint8Array), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    hash.update(new Uint8Array(0));
    assert.equal(hex(hash.digest()), VECTORS[0]?.digest);
    assert.throws(() => hash.update(Buffer.of(1)), { code: 'ERR_SHA256_FINISHED' });
    assert.throws(() => hash.save(), { code: 'ERR_SHA256_FINISHED' });
    assert.throws(() => hash.digest(), { code: 'ERR_SHA256_FINISHED' });
  });

  it('hashes a view into a larger buffer from its own offset', () => {
    const backing = randomBytes(1000);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 123, 500);
    const hash = ResumableSha256.fresh();
    hash.update(view);
    assert.equal(hex(hash.digest()), nativeHex(backing.subarray(123, 623)));
  });
});
