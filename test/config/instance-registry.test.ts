import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.js';

// The instance registry's three bounds (docs/health.md): their defaults, and bad values refused in one line.

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

describe('config: instance registry keys', () => {
  test('defaults: a heartbeat every 15 s, not seen after 60 s, forgotten after a day', () => {
    const { config } = parseConfig('{}', 'config.yaml', {});
    assert.equal(config.INSTANCE_HEARTBEAT_S, 15);
    assert.equal(config.INSTANCE_NOT_SEEN_AFTER_S, 60);
    assert.equal(config.INSTANCE_PURGE_AFTER_S, 86_400);
    const short = parseConfig('INSTANCE_HEARTBEAT_S: 1\nINSTANCE_NOT_SEEN_AFTER_S: 3\nINSTANCE_PURGE_AFTER_S: 10\n', 'config.yaml', {}).config;
    assert.deepEqual([short.INSTANCE_HEARTBEAT_S, short.INSTANCE_NOT_SEEN_AFTER_S, short.INSTANCE_PURGE_AFTER_S], [1, 3, 10]);
  });

  test('refuses bounds that are not numbers, out of range, or in the wrong order', () => {
    assert.match(errorOf('INSTANCE_HEARTBEAT_S: often\n'), /INSTANCE_HEARTBEAT_S/);
    assert.match(errorOf('INSTANCE_HEARTBEAT_S: 0\n'), /INSTANCE_HEARTBEAT_S/);
    assert.match(errorOf('INSTANCE_NOT_SEEN_AFTER_S: 1.5\n'), /INSTANCE_NOT_SEEN_AFTER_S/);
    assert.match(errorOf('INSTANCE_HEARTBEAT_S: 30\nINSTANCE_NOT_SEEN_AFTER_S: 30\n'), /INSTANCE_NOT_SEEN_AFTER_S.*must be longer than INSTANCE_HEARTBEAT_S \(30\)/);
    assert.match(errorOf('INSTANCE_NOT_SEEN_AFTER_S: 600\nINSTANCE_PURGE_AFTER_S: 300\n'), /INSTANCE_PURGE_AFTER_S.*must be longer than INSTANCE_NOT_SEEN_AFTER_S \(600\)/);
  });
});
