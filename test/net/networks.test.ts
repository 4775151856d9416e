// TRUSTED_PROXY_NETWORKS: CIDR parsing and membership, and the one-line refusal of a malformed entry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NetworkList, parseNetwork } from '../../src/config/networks.js';
import { parseConfig } from '../../src/config/load.js';

test('parseNetwork takes IPv4/IPv6 CIDRs and bare addresses, and refuses the rest', () => {
  assert.deepEqual(parseNetwork('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  assert.deepEqual(parseNetwork('192.0.2.7'), { address: '192.0.2.7', prefix: 32, family: 'ipv4' });
  assert.deepEqual(parseNetwork('fd00::/8'), { address: 'fd00::', prefix: 8, family: 'ipv6' });
  for (const bad of ['', '10.0.0.0/33', '::/129', '10.0.0/8', 'example.com', '10.0.0.0/8/1', '10.0.0.0/-1', '10.0.0.0/ 8']) {
    assert.equal(parseNetwork(bad), undefined, bad);
  }
});

test('NetworkList answers for IPv4, IPv6 and IPv4-mapped addresses; an empty list trusts nobody', () => {
  const list = new NetworkList(['10.0.0.0/8', '127.0.0.2', 'fd00::/8']);
  assert.equal(list.has('10.200.3.4'), true);
  assert.equal(list.has('::ffff:10.1.2.3'), true);
  assert.equal(list.has('127.0.0.2'), true);
  assert.equal(list.has('127.0.0.1'), false);
  assert.equal(list.has('fd12::1'), true);
  assert.equal(list.has('fe80::1'), false);
  assert.equal(list.has('unknown'), false);
  assert.equal(new NetworkList([]).has('127.0.0.1'), false);
});

test('a malformed TRUSTED_PROXY_NETWORKS entry is refused with the key and the entry named', () => {
  assert.throws(() => parseConfig('TRUSTED_PROXY_NETWORKS: [10.0.0.0/8, 10.0.0.300/24]\n', 'config.yaml', {}), (error: Error) => {
    assert.match(error.message, /TRUSTED_PROXY_NETWORKS/);
    assert.match(error.message, /expected a network such as 10\.0\.0\.0\/8/);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
  assert.deepEqual(parseConfig('TRUSTED_PROXY_NETWORKS: [10.0.0.0/8]\n', 'config.yaml', {}).config.TRUSTED_PROXY_NETWORKS, ['10.0.0.0/8']);
});
