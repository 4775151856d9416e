import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeJws, MAX_TOKEN_LENGTH, signRs256, verifyRs256 } from '../../src/auth/jwt.js';
import { TokenError } from '../../src/auth/services.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function malformed(token: string, pattern: RegExp): void {
  assert.throws(() => decodeJws(token), (error: unknown) => {
    assert.ok(error instanceof TokenError, String(error));
    assert.equal(error.reason, 'malformed');
    assert.match(error.message, pattern);
    return true;
  });
}

/** A token with any header, signed (RS256 over the input) with the test key. */
function forge(header: unknown, payload: unknown = { sub: 'x' }): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

describe('jwt', () => {
  it('signs and verifies RS256', () => {
    const token = signRs256({ sub: 'alice', n: 1 }, privateKey, 'kid-1');
    const decoded = decodeJws(token);
    assert.deepEqual(decoded.header, { alg: 'RS256', typ: 'JWT', kid: 'kid-1' });
    assert.deepEqual(decoded.payload, { sub: 'alice', n: 1 });
    assert.equal(verifyRs256(decoded, publicKey), true);
    assert.equal(verifyRs256(decoded, other.publicKey), false);
    assert.equal(verifyRs256(decoded, ec.publicKey), false, 'a key of another type verifies nothing and does not throw');
  });

  it('detects a tampered payload, header or signature', () => {
    const token = signRs256({ sub: 'alice', access: [] }, privateKey, 'k');
    const [h, , s] = token.split('.') as [string, string, string];
    const tamperedPayload = `${h}.${b64({ sub: 'root', access: [] })}.${s}`;
    assert.equal(verifyRs256(decodeJws(tamperedPayload), publicKey), false);
    const tamperedHeader = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'other' })}.${token.split('.')[1]}.${s}`;
    assert.equal(verifyRs256(decodeJws(tamperedHeader), publicKey), false);
    const sig = Buffer.from(s, 'base64url');
    sig[10] = (sig[10] as number) ^ 1;
    assert.equal(verifyRs256(decodeJws(`${h}.${token.split('.')[1]}.${sig.toString('base64url')}`), publicKey), false);
    const short = Buffer.from(s, 'base64url').subarray(0, 100).toString('base64url');
    assert.equal(verifyRs256(decodeJws(`${h}.${token.split('.')[1]}.${short}`), publicKey), false);
  });

  it('refuses alg none, HS256 and every other algorithm', () => {
    malformed(`${b64({ alg: 'none', kid: 'k' })}.${b64({ sub: 'x' })}.`, /expected three|not base64url|RS256/);
    malformed(`${b64({ alg: 'none', kid: 'k' })}.${b64({ sub: 'x' })}.AAAA`, /only the RS256/);
    // HS256 "signed" with the public key as the HMAC secret: the classic confusion attack.
    const pem = publicKey.export({ type: 'spki', format: 'pem' });
    const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'k' })}.${b64({ sub: 'root' })}`;
    malformed(`${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`, /only the RS256/);
    for (const alg of ['RS384', 'PS256', 'ES256', 'rs256', 'RS256 ', undefined, 1, null]) {
      malformed(forge({ alg, kid: 'k' }), /only the RS256/);
    }
  });

  it('checks typ, kid and crit', () => {
    assert.doesNotThrow(() => decodeJws(forge({ alg: 'RS256', kid: 'k' })), 'typ may be absent');
    malformed(forge({ alg: 'RS256', typ: 'JWS', kid: 'k' }), /typ must be JWT/);
    malformed(forge({ alg: 'RS256', typ: 'JWT' }), /key id/);
    malformed(forge({ alg: 'RS256', kid: '' }), /key id/);
    malformed(forge({ alg: 'RS256', kid: '../../etc/passwd' }), /key id/);
    malformed(forge({ alg: 'RS256', kid: 'k'.repeat(65) }), /key id/);
    malformed(forge({ alg: 'RS256', kid: 7 }), /key id/);
    malformed(forge({ alg: 'RS256', kid: 'k', crit: ['exp'] }), /critical/);
  });

  it('refuses structural garbage', () => {
    const good = signRs256({ sub: 'a' }, privateKey, 'k');
    const [h, p, s] = good.split('.') as [string, string, string];
    malformed('', /empty/);
    malformed('abc', /three/);
    malformed(`${h}.${p}`, /three/);
    malformed(`${h}.${p}.${s}.x`, /three/);
    malformed(`${h}..${s}`, /payload is not base64url/);
    malformed(`${h}.${p}.`, /signature is not base64url/);
    malformed(`${h}=.${p}.${s}`, /header is not base64url/);
    malformed(`${h}.${p}.${s.slice(0, -1)}+`, /signature is not base64url/);
    malformed(`${b64('[1,2]')}.${p}.${s}`, /header is not a JSON object/);
    malformed(`${b64('null')}.${p}.${s}`, /header is not a JSON object/);
    malformed(`${b64('{nope')}.${p}.${s}`, /header is not JSON/);
    malformed(`${h}.${b64('"str"')}.${s}`, /payload is not a JSON object/);
    malformed(`${h}.${b64([1])}.${s}`, /payload is not a JSON object/);
    malformed(`${h}.${p}.${s}${'A'.repeat(MAX_TOKEN_LENGTH)}`, /longer than/);
    // A non-canonical encoding (extra low bits in the last character) is refused, not silently accepted.
    const last = s.at(-1) as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const bumped = alphabet[(alphabet.indexOf(last) + 1) % 64] as string;
    if (Buffer.from(`${s.slice(0, -1)}${bumped}`, 'base64url').toString('base64url') !== `${s.slice(0, -1)}${bumped}`) {
      malformed(`${h}.${p}.${s.slice(0, -1)}${bumped}`, /canonical/);
    }
  });
});
