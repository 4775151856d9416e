import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { tagExpirationFrom } from '../../src/gc/tag-expiration.js';

// FEATURE_CHANGE_TAG_EXPIRATION, TAG_EXPIRATION_OPTIONS, DEFAULT_TAG_EXPIRATION and the LABELED_EXPIRATION
// bounds: read as Quay reads them, and refused in one line when wrong.

function errorOf(yaml: string): string {
  try {
    parseConfig(yaml, 'config.yaml', {});
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
    return error.message;
  }
  assert.fail(`parsed without error:\n${yaml}`);
}

describe('config: tag expiration keys', () => {
  test("defaults are Quay's: changeable, 2w window, options 0s 1d 1w 2w 4w, expiries 1h to 104w", () => {
    const settings = tagExpirationFrom(parseConfig('{}', 'config.yaml', {}).config);
    assert.equal(settings.changeable, true);
    assert.equal(settings.defaultS, 14 * 86_400);
    assert.deepEqual(settings.optionNames, ['0s', '1d', '1w', '2w', '4w']);
    assert.deepEqual(settings.optionsS, [0, 86_400, 604_800, 1_209_600, 2_419_200]);
    assert.deepEqual(settings.bounds, { minMs: 3_600_000, maxMs: 104 * 604_800_000 });
  });

  test('reads a configured list, and a default outside Quay\'s list joins it when there is no list', () => {
    const listed = tagExpirationFrom(parseConfig('DEFAULT_TAG_EXPIRATION: 3d\nTAG_EXPIRATION_OPTIONS: [0s, 3d, 30d]\nFEATURE_CHANGE_TAG_EXPIRATION: false\n', 'config.yaml', {}).config);
    assert.deepEqual(listed.optionsS, [0, 3 * 86_400, 30 * 86_400]);
    assert.equal(listed.changeable, false);
    const implicit = tagExpirationFrom(parseConfig('DEFAULT_TAG_EXPIRATION: 3d\n', 'config.yaml', {}).config);
    assert.deepEqual(implicit.optionNames, ['0s', '1d', '1w', '2w', '4w', '3d']);
  });

  test('refuses bad durations, lists and bounds in one line', () => {
    assert.match(errorOf('TAG_EXPIRATION_OPTIONS: [1d, 1M]\n'), /TAG_EXPIRATION_OPTIONS.*a number and one of s, m, h, d, w/);
    assert.match(errorOf('TAG_EXPIRATION_OPTIONS: 2w\n'), /TAG_EXPIRATION_OPTIONS: expected a list/);
    assert.match(errorOf('TAG_EXPIRATION_OPTIONS: []\n'), /TAG_EXPIRATION_OPTIONS/);
    assert.match(errorOf('TAG_EXPIRATION_OPTIONS: [1w, 4w]\n'), /TAG_EXPIRATION_OPTIONS.*must include DEFAULT_TAG_EXPIRATION \(2w\)/);
    assert.match(errorOf('DEFAULT_TAG_EXPIRATION: 2 weeks\n'), /DEFAULT_TAG_EXPIRATION/);
    assert.match(errorOf('FEATURE_CHANGE_TAG_EXPIRATION: sometimes\n'), /FEATURE_CHANGE_TAG_EXPIRATION/);
    assert.match(errorOf('LABELED_EXPIRATION_MINIMUM: 2w\nLABELED_EXPIRATION_MAXIMUM: 1w\n'), /LABELED_EXPIRATION_MINIMUM.*must not be longer than LABELED_EXPIRATION_MAXIMUM \(1w\)/);
    assert.match(errorOf('LABELED_EXPIRATION_MAXIMUM: 10y\n'), /LABELED_EXPIRATION_MAXIMUM/);
  });
});
