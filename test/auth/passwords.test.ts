import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { BCRYPT_COST, hashPassword, MAX_PASSWORD_LENGTH, passwordProblem, verifyNothing, verifyPassword } from '../../src/auth/passwords.js';

describe('passwords', () => {
  it('enforces 8..1024 characters', () => {
    assert.match(passwordProblem('short') ?? '', /at least 8/);
    assert.equal(passwordProblem('12345678'), undefined);
    assert.equal(passwordProblem('x'.repeat(MAX_PASSWORD_LENGTH)), undefined);
    assert.match(passwordProblem('x'.repeat(MAX_PASSWORD_LENGTH + 1)) ?? '', /at most 1024/);
  });

  it('hashes with bcrypt at the documented cost and verifies', async () => {
    const hash = await hashPassword('correct horse battery');
    assert.match(hash, /^\$2[aby]\$10\$/);
    assert.equal(bcrypt.getRounds(hash), BCRYPT_COST);
    assert.equal(await verifyPassword('correct horse battery', hash), true);
    assert.equal(await verifyPassword('correct horse batterY', hash), false);
    assert.equal(await verifyPassword('', hash), false);
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

  it('refuses a 1,000,000-character password at once', async () => {
    const hash = await hashPassword('something sensible');
    const started = performance.now();
    assert.equal(await verifyPassword('x'.repeat(1_000_000), hash), false);
    assert.ok(performance.now() - started < 20, 'no bcrypt, no hashing of a megabyte');
  });

  it('treats a malformed stored hash as a mismatch', async () => {
    assert.equal(await verifyPassword('whatever1', 'not-a-hash'), false);
    assert.equal(await verifyPassword('whatever1', ''), false);
  });

  it('spends a real check on verifyNothing', async () => {
    const started = performance.now();
    assert.equal(await verifyNothing('guess1234'), false);
    assert.ok(performance.now() - started > 5, 'a dummy bcrypt verify ran');
  });
});
