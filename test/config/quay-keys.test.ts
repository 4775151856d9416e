import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isQuayKeyNotYetUsed, QUAY_KEYS_NOT_YET_USED } from '../../src/config/quay-keys.js';
import { CONFIG_KEYS, parseSize } from '../../src/config/schema.js';

test('no key is both read by the schema and listed as not used yet', () => {
  for (const key of CONFIG_KEYS) assert.equal(isQuayKeyNotYetUsed(key), false, key);
  assert.ok(QUAY_KEYS_NOT_YET_USED.size > 100);
});

test('every listed key is spelled as Quay spells keys', () => {
  for (const key of QUAY_KEYS_NOT_YET_USED) assert.match(key, /^[A-Z][A-Z0-9_]*$/);
});

test('OIDC provider keys are recognised by their suffix only', () => {
  assert.equal(isQuayKeyNotYetUsed('KEYCLOAK_LOGIN_CONFIG'), true);
  assert.equal(isQuayKeyNotYetUsed('LOGIN_CONFIG'), false);
  assert.equal(isQuayKeyNotYetUsed('keycloak_login_config'), false);
  assert.equal(isQuayKeyNotYetUsed('NOT_A_QUAY_KEY'), false);
});

test('parseSize: units are binary, malformed sizes are undefined', () => {
  assert.equal(parseSize('1K'), 1024);
  assert.equal(parseSize('3M'), 3 * 1024 ** 2);
  assert.equal(parseSize('20G'), 20 * 1024 ** 3);
  assert.equal(parseSize(' 7 '), 7);
  assert.equal(parseSize(4096), 4096);
  for (const bad of ['', 'G', '1.5G', '-1', '0', '20 X', '1e3', 0, -1, 1.5, Number.NaN, 2 ** 60, '99999999999999999999T']) {
    assert.equal(parseSize(bad), undefined, JSON.stringify(bad));
  }
});
