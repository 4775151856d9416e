import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRangeHeader, parseUploadContentRange } from '../../src/registry/range-headers.js';

describe('parseRangeHeader', () => {
  const SIZE = 1000;
  type Expected = { start: number; end: number } | 'unsatisfiable' | undefined;
  const cases: Array<[string, string | undefined, Expected, number?]> = [
    // absent or ignorable
    ['no header', undefined, undefined],
    ['empty header', '', undefined],
    ['unit only', 'bytes=', undefined],
    ['only commas', 'bytes=, ,', undefined],
    ['no equals sign', 'bytes 0-5', undefined],
    ['other unit', 'items=0-5', undefined],
    ['no unit', '=0-5', undefined],
    ['garbage', 'hello world', undefined],
    ['binary garbage', '\u0000\uffff=\u0001', undefined],
    ['no dash', 'bytes=5', undefined],
    ['two dashes', 'bytes=1-2-3', undefined],
    ['lone dash', 'bytes=-', undefined],
    ['negative start', 'bytes=-5-10', undefined],
    ['plus sign', 'bytes=+5-10', undefined],
    ['letters', 'bytes=a-b', undefined],
    ['hex', 'bytes=0x10-0x20', undefined],
    ['decimal point', 'bytes=1.5-2', undefined],
    ['exponent', 'bytes=1e3-', undefined],
    ['unicode digits', 'bytes=١-٥', undefined],
    ['whitespace inside a spec', 'bytes=1 - 5', undefined],
    ['last before first (invalid, ignored)', 'bytes=10-5', undefined],
    ['one bad spec among good ones', 'bytes=0-5,x', undefined],
    ['several satisfiable ranges (no multipart: whole blob)', 'bytes=0-5,10-20', undefined],
    ['too many ranges', `bytes=${Array.from({ length: 100 }, (_, i) => `${i}-${i}`).join(',')}`, undefined],
    ['suffix on an empty blob (satisfiable, selects nothing)', 'bytes=-5', undefined, 0],
    // single ranges
    ['first-last', 'bytes=0-499', { start: 0, end: 499 }],
    ['one byte', 'bytes=5-5', { start: 5, end: 5 }],
    ['last byte', 'bytes=999-999', { start: 999, end: 999 }],
    ['open ended', 'bytes=500-', { start: 500, end: 999 }],
    ['from zero open ended', 'bytes=0-', { start: 0, end: 999 }],
    ['last beyond size is clamped', 'bytes=900-5000', { start: 900, end: 999 }],
    ['huge last is clamped', `bytes=10-${'9'.repeat(400)}`, { start: 10, end: 999 }],
    ['suffix', 'bytes=-100', { start: 900, end: 999 }],
    ['suffix longer than the blob', 'bytes=-5000', { start: 0, end: 999 }],
    ['huge suffix', `bytes=-${'9'.repeat(30)}`, { start: 0, end: 999 }],
    ['leading zeros', 'bytes=0010-0020', { start: 10, end: 20 }],
    ['upper-case unit', 'BYTES=1-2', { start: 1, end: 2 }],
    ['whitespace around', '  bytes=1-2  ', { start: 1, end: 2 }],
    ['empty list elements', 'bytes=,1-2,', { start: 1, end: 2 }],
    ['one satisfiable among unsatisfiable', 'bytes=5000-6000, 1-2', { start: 1, end: 2 }],
    ['single byte blob', 'bytes=0-0', { start: 0, end: 0 }, 1],
    // unsatisfiable
    ['start at size', 'bytes=1000-', 'unsatisfiable'],
    ['start beyond size', 'bytes=1000-2000', 'unsatisfiable'],
    ['huge start', `bytes=${'9'.repeat(25)}-`, 'unsatisfiable'],
    ['start beyond double range', `bytes=${'9'.repeat(400)}-`, 'unsatisfiable'],
    ['zero suffix', 'bytes=-0', 'unsatisfiable'],
    ['all ranges unsatisfiable', 'bytes=2000-3000,-0', 'unsatisfiable'],
    ['any range of an empty blob', 'bytes=0-0', 'unsatisfiable', 0],
  ];
  for (const [label, header, expected, size] of cases) {
    it(`${label}: ${JSON.stringify(header?.slice(0, 40))}`, () => {
      assert.deepEqual(parseRangeHeader(header, size ?? SIZE), expected);
    });
  }

  it('refuses a nonsensical size (a programming error, not client input)', () => {
    assert.throws(() => parseRangeHeader('bytes=0-1', -1), RangeError);
    assert.throws(() => parseRangeHeader('bytes=0-1', 1.5), RangeError);
  });
});

describe('parseUploadContentRange', () => {
  const good: Array<[string, number, number]> = [
    ['0-1023', 0, 1023],
    ['1024-2047', 1024, 2047],
    ['5-5', 5, 5],
    ['  0-9  ', 0, 9],
    ['bytes 0-9/*', 0, 9],
    ['bytes 0-9/10', 0, 9],
    ['bytes 100-199/1000', 100, 199],
    ['BYTES 0-9/*', 0, 9],
    ['bytes=0-9', 0, 9],
    ['bytes 0-9', 0, 9],
    ['000-009', 0, 9],
    [`0-${Number.MAX_SAFE_INTEGER}`, 0, Number.MAX_SAFE_INTEGER],
  ];
  for (const [header, start, end] of good) {
    it(`parses ${JSON.stringify(header)}`, () => assert.deepEqual(parseUploadContentRange(header), { start, end }));
  }

  const bad: Array<[string, string]> = [
    ['empty', ''],
    ['end before start', '10-5'],
    ['missing end', '0-'],
    ['missing start', '-10'],
    ['negative', '-5-10'],
    ['single number', '100'],
    ['letters', 'a-b'],
    ['decimal', '0-1.5'],
    ['spaces inside', '0 - 10'],
    ['total in the bare form', '0-9/10'],
    ['end at total', 'bytes 0-10/10'],
    ['end beyond total', 'bytes 0-99/10'],
    ['total not a number', 'bytes 0-9/x'],
    ['other unit', 'items 0-9/*'],
    ['unsatisfied-range form', 'bytes */100'],
    ['beyond safe integers', `0-${'9'.repeat(20)}`],
    ['huge and long', '1-' + '9'.repeat(10000)],
    ['two ranges', '0-1,2-3'],
    ['NUL', '0-1\u0000'],
  ];
  for (const [label, header] of bad) {
    it(`rejects ${label}`, () => assert.equal(parseUploadContentRange(header), undefined));
  }

  it('returns undefined for a non-string', () => {
    assert.equal(parseUploadContentRange(undefined as unknown as string), undefined);
  });
});
