import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { AccessEntry, Identity } from '../../src/auth/identity.js';
import { decodeJws, signRs256 } from '../../src/auth/jwt.js';
import { KeyRing, UNKNOWN_KID_CACHE_MS } from '../../src/auth/keys.js';
import { TokenError } from '../../src/auth/services.js';
import { TokenService } from '../../src/auth/tokens.js';
import type { ServiceKeyRecord, ServiceKeyStore } from '../../src/db/account-metadata.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { createAccountMetadata } from '../../src/db/kysely-accounts.js';
import { ALL_DIALECTS, freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { MemoryLog } from './fixtures.js';

const LIFETIME_S = 300;
const SKEW_S = 30;
const KEY_EXPIRATION_S = 7200;

/** Counts lookups, to show what the caches spare the database. */
class CountingKeyStore implements ServiceKeyStore {
  gets = 0;
  constructor(private readonly inner: ServiceKeyStore) {}
  publish(key: ServiceKeyRecord) {
    return this.inner.publish(key);
  }
  get(kid: string) {
    this.gets += 1;
    return this.inner.get(kid);
  }
  listActive(now: Date) {
    return this.inner.listActive(now);
  }
  deleteExpired(before: Date) {
    return this.inner.deleteExpired(before);
  }
}

interface Instance {
  keys: KeyRing;
  tokens: TokenService;
  store: CountingKeyStore;
  clock: { now: number };
}

function instance(database: Database, start: number): Instance {
  const clock = { now: start };
  const store = new CountingKeyStore(createAccountMetadata(database).serviceKeys);
  const keys = new KeyRing(store, { keyExpirationS: KEY_EXPIRATION_S, keyRefreshS: 3300, log: new MemoryLog(), now: () => clock.now });
  const tokens = new TokenService(keys, { tokenLifetimeS: LIFETIME_S, clockSkewS: SKEW_S, now: () => clock.now });
  return { keys, tokens, store, clock };
}

async function refused(promise: Promise<unknown>, reason: TokenError['reason']): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TokenError, String(error));
    assert.equal(error.reason, reason);
    return true;
  });
}

const alice: Identity = { kind: 'user', id: 7, name: 'alice', superuser: false, appTokenId: 'tok-1' };
const robot: Identity = { kind: 'robot', id: 9, name: 'acme+ci', ownerId: 3, ownerName: 'acme' };
const access: AccessEntry[] = [{ type: 'repository', name: 'acme/app', actions: ['pull', 'push'] }];

for (const dialect of ALL_DIALECTS) {
  describe(`registry tokens on ${dialect}`, () => {
    let fresh: FreshDatabase;
    let second: Database;
    let a: Instance;
    let b: Instance;
    const T0 = Date.now();

    before(async () => {
      fresh = await freshDatabase(dialect);
      // The second "instance" has its own connection pool to the same database.
      second = await openDatabase({ uri: fresh.uri });
      a = instance(fresh.database, T0);
      b = instance(second, T0);
      await a.keys.start();
      await b.keys.start();
    });
    after(async () => {
      await a.keys.stop();
      await b.keys.stop();
      await second.close();
      await fresh.drop();
    });

    it('issues tokens with the documented claims', async () => {
      const issued = await a.tokens.issue(alice, access, 'registry.example');
      assert.equal(issued.expiresIn, LIFETIME_S);
      assert.equal(issued.issuedAt.getTime(), Math.floor(T0 / 1000) * 1000);
      const { header, payload } = decodeJws(issued.token);
      assert.equal(header.kid, a.keys.current().kid);
      assert.equal(payload.iss, 'quayside');
      assert.equal(payload.aud, 'registry.example');
      assert.equal(payload.sub, 'alice');
      assert.equal(payload.nbf, payload.iat);
      assert.equal(payload.exp, (payload.iat as number) + LIFETIME_S);
      assert.match(String(payload.jti), /^[A-Za-z0-9_-]{22}$/);
      assert.deepEqual(payload.access, access);
      assert.deepEqual(payload.context, { kind: 'user', id: 7, superuser: false, appTokenId: 'tok-1' });
    });

    it('verifies on another instance and rebuilds every kind of identity', async () => {
      for (const identity of [alice, robot, { kind: 'anonymous' } as const, { kind: 'user', id: 1, name: 'root', superuser: true } as const]) {
        const issued = await a.tokens.issue(identity, access, 'registry.example');
        const verified = await b.tokens.verify(issued.token, 'registry.example');
        assert.deepEqual(verified.identity, identity);
        assert.deepEqual(verified.access, access);
        assert.equal(verified.expiresAt.getTime(), (Math.floor(T0 / 1000) + LIFETIME_S) * 1000);
      }
    });

    it('caches verified tokens and known keys', async () => {
      const issued = await a.tokens.issue(robot, [], 'registry.example');
      const before = b.store.gets;
      await b.tokens.verify(issued.token, 'registry.example');
      await b.tokens.verify(issued.token, 'registry.example');
      const another = await a.tokens.issue(alice, [], 'registry.example');
      await b.tokens.verify(another.token, 'registry.example');
      assert.equal(b.store.gets, before, "a's key was already known to b");
      // A cached token is still bound to its audience.
      await refused(b.tokens.verify(issued.token, 'elsewhere.example'), 'audience');
    });

    it('refuses a wrong audience and a tampered token', async () => {
      const issued = await a.tokens.issue(alice, access, 'registry.example');
      await refused(b.tokens.verify(issued.token, 'other.example'), 'audience');
      const [h, p, s] = issued.token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      claims.access = [{ type: 'repository', name: 'acme/app', actions: ['*'] }];
      const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
      await refused(b.tokens.verify(forged, 'registry.example'), 'signature');
      await refused(b.tokens.verify('not.a.token', 'registry.example'), 'malformed');
      await refused(b.tokens.verify('', 'registry.example'), 'malformed');
    });

    it('refuses expired and not-yet-valid tokens, with the clock skew allowed', async () => {
      const issued = await a.tokens.issue(alice, access, 'registry.example');
      const later = instance(second, T0);
      later.clock.now = T0 + (LIFETIME_S + SKEW_S - 1) * 1000;
      await later.tokens.verify(issued.token, 'registry.example');
      const expired = instance(second, T0 + (LIFETIME_S + SKEW_S + 1) * 1000);
      await refused(expired.tokens.verify(issued.token, 'registry.example'), 'expired');
      const behind = instance(second, T0 - (SKEW_S + 5) * 1000);
      await refused(behind.tokens.verify(issued.token, 'registry.example'), 'not-yet-valid');
      const slightlyBehind = instance(second, T0 - (SKEW_S - 5) * 1000);
      await slightlyBehind.tokens.verify(issued.token, 'registry.example');
    });

    it('drops a cached token when it expires', async () => {
      const verifier = instance(second, T0);
      const issued = await a.tokens.issue(alice, access, 'registry.example');
      await verifier.tokens.verify(issued.token, 'registry.example');
      verifier.clock.now = T0 + (LIFETIME_S + SKEW_S + 1) * 1000;
      await refused(verifier.tokens.verify(issued.token, 'registry.example'), 'expired');
    });

    it('refuses another issuer and claims it cannot read, even when well signed', async () => {
      const key = a.keys.current();
      const iat = Math.floor(T0 / 1000);
      const base = { iss: 'quayside', aud: 'registry.example', sub: 'alice', iat, nbf: iat, exp: iat + 60, access: [], context: { kind: 'user', id: 7, superuser: false } };
      await b.tokens.verify(signRs256(base, key.privateKey, key.kid), 'registry.example');
      await refused(b.tokens.verify(signRs256({ ...base, iss: 'quay' }, key.privateKey, key.kid), 'registry.example'), 'issuer');
      await b.tokens.verify(signRs256({ ...base, aud: ['x', 'registry.example'] }, key.privateKey, key.kid), 'registry.example');
      const bad: Array<Record<string, unknown>> = [
        { ...base, exp: undefined },
        { ...base, exp: 'soon' },
        { ...base, context: undefined },
        { ...base, context: { kind: 'user', id: 7 } },
        { ...base, context: { kind: 'admin', id: 7 } },
        { ...base, sub: '' },
        { ...base, access: 'everything' },
        { ...base, access: [{ type: 'repository', name: 'x', actions: 'pull' }] },
        { ...base, context: { kind: 'robot', id: 9 } },
      ];
      for (const claims of bad) {
        await refused(b.tokens.verify(signRs256(claims, key.privateKey, key.kid), 'registry.example'), 'malformed');
      }
    });

    it('refuses unknown kids, remembering them briefly', async () => {
      const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const iat = Math.floor(T0 / 1000);
      const claims = { iss: 'quayside', aud: 'registry.example', sub: '', iat, nbf: iat, exp: iat + 60, access: [], context: { kind: 'anonymous' } };
      const token = signRs256(claims, stranger.privateKey, 'forged-kid');
      const verifier = instance(second, T0);
      await refused(verifier.tokens.verify(token, 'registry.example'), 'unknown-key');
      await refused(verifier.tokens.verify(token, 'registry.example'), 'unknown-key');
      assert.equal(verifier.store.gets, 1, 'the second lookup came from the negative cache');
      verifier.clock.now += UNKNOWN_KID_CACHE_MS + 1;
      await refused(verifier.tokens.verify(token, 'registry.example'), 'unknown-key');
      assert.equal(verifier.store.gets, 2);
    });

    it('refuses tokens signed by an expired key', async () => {
      const old = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const store = createAccountMetadata(fresh.database).serviceKeys;
      await store.publish({
        kid: 'expired-key-1',
        publicKeyPem: old.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        createdBy: 'test',
        createdAt: new Date(T0 - 7_200_000),
        expiresAt: new Date(T0 - 3_600_000),
      });
      const iat = Math.floor(T0 / 1000);
      const claims = { iss: 'quayside', aud: 'registry.example', sub: '', iat, nbf: iat, exp: iat + 60, access: [], context: { kind: 'anonymous' } };
      await refused(b.tokens.verify(signRs256(claims, old.privateKey, 'expired-key-1'), 'registry.example'), 'expired-key');

      // A live key that expires: tokens never outlive it (exp is capped), and after it they are refused.
      const short = new KeyRing(createAccountMetadata(fresh.database).serviceKeys, { keyExpirationS: 120, keyRefreshS: 60, log: new MemoryLog(), now: () => T0 });
      await short.start();
      await short.stop();
      const shortTokens = new TokenService(short, { tokenLifetimeS: 3600, clockSkewS: SKEW_S, now: () => T0 });
      const issued = await shortTokens.issue(alice, access, 'registry.example');
      assert.ok(issued.expiresIn <= 120, `expires in ${issued.expiresIn}`);
      await b.tokens.verify(issued.token, 'registry.example');
      const afterExpiry = instance(second, T0 + (120 + SKEW_S + 1) * 1000);
      await refused(afterExpiry.tokens.verify(issued.token, 'registry.example'), 'expired-key');
    });

    it('keeps tokens of rotated keys valid and deletes expired keys at rotation', async () => {
      const before = await a.tokens.issue(alice, access, 'registry.example');
      const firstKid = a.keys.current().kid;
      await a.keys.rotate();
      assert.notEqual(a.keys.current().kid, firstKid);
      const afterRotation = await a.tokens.issue(alice, access, 'registry.example');
      assert.notEqual(decodeJws(afterRotation.token).header.kid, firstKid);
      const verifier = instance(second, T0);
      await verifier.tokens.verify(before.token, 'registry.example');
      await verifier.tokens.verify(afterRotation.token, 'registry.example');
      // The expired row published by the previous test was removed by the rotation.
      assert.equal(await createAccountMetadata(fresh.database).serviceKeys.get('expired-key-1'), undefined);
      const row = await createAccountMetadata(fresh.database).serviceKeys.get(a.keys.current().kid);
      assert.ok(row);
      assert.equal(row.expiresAt.getTime(), T0 + KEY_EXPIRATION_S * 1000);
      assert.match(row.createdBy, /:\d+$/);
    });

    it('cannot sign before it has a key', async () => {
      const idle = instance(fresh.database, T0);
      await assert.rejects(idle.tokens.issue(alice, access, 'x'), /no token signing key/);
    });
  });
}
