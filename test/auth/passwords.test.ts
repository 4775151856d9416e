import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import bcrypt from 'bcrypt';
import { BCRYPT_COST, hashPassword, MAX_PASSWORD_LENGTH, passwordProblem, verifyNothing, verifyPassword } from '../../src/auth/passwords.js';
import { cpuMicros } from '../helpers/cpu-time.js';

/**
 * Hashes stored before the move to the native addon, made by bcryptjs 3 over the same base64 SHA-256
 * pre-hash (the second is the same hash under the `$2a$` prefix bcryptjs 2 wrote): they must keep verifying.
 */
const STORED_HASHES: ReadonlyArray<[password: string, hash: string]> = [
  ['correct horse battery', '$2b$10$UPIdjamA3zg1VvpoRloQXe1p8Q4gdvxTVgd7oJ3kPIq9txI7nwsSi'],
  ['a legacy password', '$2a$10$WHml9oTSXXNyXFHWU0Pldei9h/bsqQczNoBOya9Ne2g4yUJ5vh8va'],
  ['pässwörd\u0000tail', '$2b$10$1dVzbMFFkXtzKz.p5CxHkuqjNWnb1tzlPqwrwPn88lDQu6wKmoyjG'],
  [`${'p'.repeat(80)}-one`, '$2b$10$BsqRkXg6SsugMb15hJwfleVYDquuZkE.QqtbCHXhgn4QV4RxjD8Bq'],
];

describe('passwords', () => {
  it('enforces 8..1024 characters', () => {
    assert.match(passwordProblem('short') ?? '', /at least 8/);
    assert.equal(passwordProblem('12345678'), undefined);
    assert.equal(passwordProblem('x'.repeat(MAX_PASSWORD_LENGTH)), undefined);
    assert.match(passwordProblem('x'.repeat(MAX_PASSWORD_LENGTH + 1)) ?? '', /at most 1024/);
  });

  it('hashes with bcrypt at the documented cost and verifies', async () => {
    const hash = await hashPassword('correct horse battery');
    assert.match(hash, /^\$2b\$10\$[./A-Za-z0-9]{53}$/);
    assert.equal(bcrypt.getRounds(hash), BCRYPT_COST);
    assert.equal(await verifyPassword('correct horse battery', hash), true);
    assert.equal(await verifyPassword('correct horse batterY', hash), false);
    assert.equal(await verifyPassword('', hash), false);
  });

  it('verifies the hashes stored before (bcryptjs, $2b$ and $2a$), and only with their password', async () => {
    for (const [password, hash] of STORED_HASHES) {
      assert.equal(await verifyPassword(password, hash), true, `${hash} no longer verifies`);
      assert.equal(await verifyPassword(`${password}!`, hash), false);
    }
  });

  it('tells apart long passwords that share their first 72 bytes (bcrypt alone would not)', async () => {
    const prefix = 'p'.repeat(80);
    const hash = await hashPassword(`${prefix}-one`);
    assert.equal(await verifyPassword(`${prefix}-one`, hash), true);
    assert.equal(await verifyPassword(`${prefix}-two`, hash), false);
  });

  it('handles multi-byte characters and NUL bytes', async () => {
    const hash = await hashPassword('pässwörd\u0000tail');
    assert.equal(await verifyPassword('pässwörd\u0000tail', hash), true);
    assert.equal(await verifyPassword('pässwörd\u0000TAIL', hash), false);
  });

  it('keeps the event loop turning while several hashes and checks run', async () => {
    const HASHES = 4;
    let turns = 0;
    let turnsWhenFirstDone: number | undefined;
    let running = true;
    // One event-loop turn per setImmediate: bcrypt on the main thread (bcryptjs) allows one per 100 ms slice.
    const spin = (): void => {
      if (!running) return;
      turns += 1;
      setImmediate(spin);
    };
    setImmediate(spin);
    const work = [
      ...Array.from({ length: HASHES / 2 }, (_, i) => hashPassword(`password number ${i}`)),
      ...STORED_HASHES.slice(0, HASHES / 2).map(([password, hash]) => verifyPassword(password, hash)),
    ].map((p) => p.finally(() => (turnsWhenFirstDone ??= turns)));
    const results = await Promise.all(work);
    running = false;
    assert.deepEqual(results.slice(HASHES / 2), [true, true]);
    assert.ok((turnsWhenFirstDone ?? 0) >= 100, `the event loop turned only ${turnsWhenFirstDone} times before the first of ${HASHES} bcrypt operations ended`);
  });

  it('refuses a 1,000,000-character password without hashing it', async () => {
    const hash = await hashPassword('something sensible');
    // Refused before any bcrypt work: the answer comes before the next event-loop turn.
    let nextTurn = false;
    setImmediate(() => (nextTurn = true));
    assert.equal(await verifyPassword('x'.repeat(1_000_000), hash), false);
    assert.equal(nextTurn, false, 'the refusal waited for hashing');
  });

  it('treats a malformed stored hash as a mismatch', async () => {
    assert.equal(await verifyPassword('whatever1', 'not-a-hash'), false);
    assert.equal(await verifyPassword('whatever1', ''), false);
    assert.equal(await verifyPassword('whatever1', '$2b$10$short'), false);
  });

  it('spends a real check on verifyNothing', async () => {
    const [password, hash] = STORED_HASHES[0] ?? ['', ''];
    const real = await cpuMicros(() => verifyPassword(password, hash));
    const nothing = await cpuMicros(() => verifyNothing('guess1234'));
    assert.equal(await verifyNothing(password), false);
    assert.ok(nothing > real / 3, `verifyNothing cost ${nothing} µs of CPU, a real check ${real} µs`);
  });
});
