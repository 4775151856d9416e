import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expiryLabelSeconds } from '../../src/registry/expiry-label.js';

const config = (labels: unknown) => Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: labels } }));

describe('the quay.expires-after label', () => {
  it("reads Quay's durations from config.Labels", () => {
    assert.equal(expiryLabelSeconds(config({ 'quay.expires-after': '2w' })), 14 * 86_400);
    assert.equal(expiryLabelSeconds(config({ 'quay.expires-after': '24h', other: 'x' })), 86_400);
    assert.equal(expiryLabelSeconds(config({ 'quay.expires-after': '90s' })), 90);
  });

  it('ignores what is not a readable label, as Quay does, rather than refusing the push', () => {
    for (const value of ['forever', '2 weeks', '1M', '', '-1h']) assert.equal(expiryLabelSeconds(config({ 'quay.expires-after': value })), null, value);
    assert.equal(expiryLabelSeconds(config({ 'quay.expires-after': 3600 })), null, 'a number is not a label value');
    assert.equal(expiryLabelSeconds(config({ 'quay.expires-after': '0s' })), null, 'zero: no expiry');
    assert.equal(expiryLabelSeconds(config(null)), null);
    assert.equal(expiryLabelSeconds(config(['quay.expires-after'])), null);
    assert.equal(expiryLabelSeconds(Buffer.from('not json')), null);
    assert.equal(expiryLabelSeconds(Buffer.from('{"config": "x"}')), null);
  });
});
