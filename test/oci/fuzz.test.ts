import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidDigest, parseDigest } from '../../src/oci/digest.js';
import { ManifestError, type ParsedManifest, parseManifest } from '../../src/oci/manifest.js';
import { MANIFEST_MEDIA_TYPES } from '../../src/oci/media-types.js';
import { MAX_NAME_LENGTH, isValidTag, repositoryNameProblem } from '../../src/oci/names.js';
import { parseRangeHeader, parseUploadContentRange } from '../../src/registry/range-headers.js';
import { type Json, bytes, dockerImage, dockerList, ociArtifact, ociImage, ociIndex } from './fixtures.js';

// Seeded so that a failure reproduces: the seed is in the assertion message.
const SEED = Number(process.env.QUAYSIDE_FUZZ_SEED ?? 0x5eed);

function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = rng(SEED);
const int = (n: number): number => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;

function randomBytes(max: number): Buffer {
  const out = Buffer.alloc(int(max + 1));
  for (let i = 0; i < out.length; i++) out[i] = int(256);
  return out;
}

function randomString(alphabet: string, max: number): string {
  let s = '';
  const n = int(max + 1);
  for (let i = 0; i < n; i++) s += alphabet[int(alphabet.length)];
  return s;
}

const INTERESTING: Json[] = [
  null, true, false, 0, -1, 1.5, 2, 2 ** 53, 1e308, '', 'x', 'sha256:', 'application/json', [], {}, [null], { a: 1 },
  'sha256:' + 'a'.repeat(64), '__proto__', 'constructor',
];

function randomJson(depth: number): Json {
  if (depth <= 0 || random() < 0.6) return pick(INTERESTING);
  if (random() < 0.5) return Array.from({ length: int(3) }, () => randomJson(depth - 1));
  const obj: { [key: string]: Json } = {};
  for (let i = int(3); i > 0; i--) obj[pick(['mediaType', 'digest', 'size', 'urls', 'data', 'platform', 'k'])] = randomJson(depth - 1);
  return obj;
}

/** Replace, delete or add one value somewhere inside the document. */
function mutateJson(doc: Json): Json {
  if (doc === null || typeof doc !== 'object' || random() < 0.15) return randomJson(3);
  if (Array.isArray(doc)) {
    if (doc.length === 0 || random() < 0.2) return [...doc, randomJson(2)];
    const i = int(doc.length);
    const copy = [...doc];
    if (random() < 0.2) copy.splice(i, 1);
    else copy[i] = mutateJson(copy[i] as Json);
    return copy;
  }
  const keys = Object.keys(doc);
  const copy = { ...doc };
  const key = keys.length > 0 && random() < 0.85 ? pick(keys) : pick(['schemaVersion', 'mediaType', 'config', 'layers', 'manifests', 'subject', 'artifactType', 'annotations']);
  if (random() < 0.2) delete copy[key];
  else copy[key] = key in copy ? mutateJson(copy[key] as Json) : randomJson(3);
  return copy;
}

function mutateBytes(buf: Buffer): Buffer {
  const copy = Buffer.from(buf);
  const choice = int(4);
  const at = int(copy.length);
  if (choice === 0) copy[at] = int(256);
  else if (choice === 1) return Buffer.concat([copy.subarray(0, at), copy.subarray(Math.min(copy.length, at + 1 + int(20)))]);
  else if (choice === 2) return Buffer.concat([copy.subarray(0, at), randomBytes(8), copy.subarray(at)]);
  else copy[at] = pick([0x22, 0x2c, 0x3a, 0x7b, 0x7d, 0x5b, 0x5d, 0x30, 0x2d]);
  return copy;
}

const CONTENT_TYPES = [undefined, '', 'application/json', 'application/octet-stream', ...MANIFEST_MEDIA_TYPES, 'application/vnd.docker.distribution.manifest.v1+prettyjws', `${MANIFEST_MEDIA_TYPES[0]}; charset=utf-8`, ';;;'];

/** parseManifest may only return a consistent result or throw ManifestError. */
function checkManifest(input: Buffer, contentType: string | undefined, context: string): 'ok' | 'rejected' {
  let parsed: ParsedManifest;
  try {
    parsed = parseManifest(input, contentType);
  } catch (err) {
    assert.ok(err instanceof ManifestError, `${context}: threw ${String(err)} (seed ${SEED})`);
    assert.ok(err.message.length > 0);
    return 'rejected';
  }
  assert.ok(MANIFEST_MEDIA_TYPES.includes(parsed.mediaType), context);
  for (const ref of parsed.references) assert.ok(isValidDigest(ref.digest), context);
  const keys = parsed.references.map((r) => `${r.kind} ${r.digest}`);
  assert.equal(new Set(keys).size, keys.length, `${context}: duplicate references`);
  if (parsed.kind === 'image') assert.ok(parsed.config !== undefined && parsed.manifests.length === 0, context);
  else assert.ok(parsed.config === undefined && parsed.layers.length === 0, context);
  return 'ok';
}

describe(`fuzz (seed ${SEED})`, () => {
  it('parseManifest never throws anything but ManifestError on random bytes', () => {
    for (let i = 0; i < 3000; i++) checkManifest(randomBytes(200), pick(CONTENT_TYPES), `random bytes #${i}`);
  });

  it('parseManifest survives JSON-level and byte-level mutations of valid manifests', () => {
    const bases = [ociImage, ociArtifact, ociIndex, dockerImage, dockerList];
    const outcomes = { ok: 0, rejected: 0 };
    for (let i = 0; i < 3000; i++) {
      const base = pick(bases)();
      let doc: Json = base;
      for (let n = 1 + int(3); n > 0; n--) doc = mutateJson(doc);
      outcomes[checkManifest(bytes(doc), pick(CONTENT_TYPES), `json mutation #${i}`)]++;
      const mangled = mutateBytes(bytes(pick(bases)(), int(3)));
      outcomes[checkManifest(mangled, pick(CONTENT_TYPES), `byte mutation #${i}`)]++;
    }
    // Both paths must actually be exercised, or the fuzzing proves nothing.
    assert.ok(outcomes.ok > 100 && outcomes.rejected > 100, JSON.stringify(outcomes));
  });

  it('parseDigest, repositoryNameProblem and isValidTag never throw and agree with the grammar', () => {
    const nameRe = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
    for (let i = 0; i < 4000; i++) {
      const raw = randomBytes(80).toString('latin1');
      const nearDigest = pick(['sha256:', 'sha512:', 'sha384:', '']) + randomString('0123456789abcdefA:', pick([64, 128, 70]));
      for (const value of [raw, nearDigest]) {
        const parsed = parseDigest(value);
        if (parsed !== undefined) assert.equal(`${parsed.algorithm}:${parsed.hex}`, value);
      }
      const name = random() < 0.5 ? raw : randomString('ab0._-/A.', 40);
      const problem = repositoryNameProblem(name);
      const valid = nameRe.test(name) && name.length <= MAX_NAME_LENGTH;
      assert.equal(problem === undefined, valid, `${JSON.stringify(name)}: ${problem} (seed ${SEED})`);
      assert.equal(typeof isValidTag(name), 'boolean');
    }
  });

  it('parseRangeHeader and parseUploadContentRange never throw and stay in bounds', () => {
    for (let i = 0; i < 4000; i++) {
      const header = random() < 0.3 ? randomBytes(40).toString('latin1') : pick(['bytes=', 'BYTES=', 'bytes ', '']) + randomString('0123456789-, /*', 24);
      const size = pick([0, 1, 2, 100, 1024, Number.MAX_SAFE_INTEGER]);
      const range = parseRangeHeader(header, size);
      if (typeof range === 'object') {
        assert.ok(Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end), header);
        assert.ok(range.start >= 0 && range.start <= range.end && range.end < size, `${header} -> ${JSON.stringify(range)}`);
      } else {
        assert.ok(range === undefined || range === 'unsatisfiable', header);
      }
      const upload = parseUploadContentRange(header);
      if (upload !== undefined) assert.ok(upload.start >= 0 && upload.start <= upload.end && Number.isSafeInteger(upload.end), header);
    }
  });
});
