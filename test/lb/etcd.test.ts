// The etcd source against a real etcd (Debian's etcd-server): initial range read, watch updates, errors that
// name the key, and recovery after etcd restarts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import type { SourceUpdate } from '../../src/lb/document.js';
import { documentFromEtcd, loadEtcd, watchEtcd } from '../../src/lb/sources/etcd.js';
import { buildModel } from '../../src/lb/validate.js';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';

const P = '/quayside/lb/';

/** Collects updates; `until` waits for one matching `predicate` (older ones are skipped). */
function collector() {
  const updates: SourceUpdate[] = [];
  return {
    push: (update: SourceUpdate) => updates.push(update),
    async until(what: string, predicate: (u: SourceUpdate) => boolean, timeoutMs = 15_000): Promise<SourceUpdate> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = updates.findIndex(predicate);
        if (index >= 0) return updates.splice(0, index + 1)[index] as SourceUpdate;
        if (Date.now() > deadline) assert.fail(`no update "${what}" within ${timeoutMs}ms; got ${JSON.stringify(updates.map((u) => (u.ok ? 'ok' : u.error.message)))}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

const backendsOf = (u: SourceUpdate, service: string) =>
  u.ok ? (u.model.services.find((s) => s.name === service)?.backends.map((b) => `${b.name}=${b.address}:${b.port}`) ?? []) : [];

describe('etcd source: pure key layout', () => {
  it('builds services with backends from their own keys, named by id', () => {
    const doc = documentFromEtcd(
      new Map([
        [`${P}lb`, '{"http_ports": [8080]}'],
        [`${P}services/web`, 'internal_port: 80\nvirtual_hosts: [a.test]\n'],
        [`${P}services/web/backends/i-1`, '"10.0.0.1"'],
        [`${P}services/web/backends/i-2`, '{"address": "10.0.0.2", "port": 81}'],
        [`${P}services/ghost/backends/x`, '"10.9.9.9"'],
      ]),
      P,
    );
    const m = buildModel(doc);
    assert.deepEqual(m.loadBalancer.httpPorts, [8080]);
    assert.deepEqual(m.services.map((s) => s.name), ['web'], 'backends of an undeclared service are ignored');
    assert.deepEqual(m.services[0]?.backends, [
      { name: 'i-1', address: '10.0.0.1', port: 80 },
      { name: 'i-2', address: '10.0.0.2', port: 81 },
    ]);
  });

  it('names the etcd key in errors', () => {
    const bad = (key: string, value: string) => () => buildModel(documentFromEtcd(new Map([[`${P}services/web`, 'internal_port: 80'], [key, value]]), P));
    assert.throws(bad(`${P}services/web/backends/b1`, '{"adress": "x"}'), { message: /\/quayside\/lb\/services\/web\/backends\/b1: services\.web\.backends\.b1(\.adress)?: /u });
    assert.throws(bad(`${P}services/api`, '{"internal_port": 80, "balance": "fastest"}'), {
      message: '/quayside/lb/services/api: services.api.balance: must be one of roundrobin, source, leastconn',
    });
    assert.throws(bad(`${P}lb`, '{ not json'), { message: /^\/quayside\/lb\/lb: not JSON or YAML/ });
    assert.throws(bad(`${P}servces/x`, '{}'), { message: /^\/quayside\/lb\/servces\/x: unknown key/ });
  });
});

describe('etcd source: watched', () => {
  let etcd: EtcdServer;
  let client: Etcd3;

  before(async () => {
    etcd = await startEtcd();
    client = new Etcd3({ hosts: etcd.endpoint });
  });
  after(async () => {
    client?.close();
    await etcd?.stop();
  });

  it('loads with a range read, then follows puts and deletes', async () => {
    await client.put(`${P}lb`).value(JSON.stringify({ http_ports: [18080], spare_slots: 1 }));
    await client.put(`${P}services/web`).value(JSON.stringify({ internal_port: 8080, virtual_hosts: ['a.test'] }));
    await client.put(`${P}services/web/backends/one`).value('10.0.0.1');
    const loaded = buildModel(await loadEtcd(client, P));
    assert.equal(loaded.services[0]?.spareSlots, 1);

    const seen = collector();
    const watch = await watchEtcd(client, P, seen.push, { debounceMs: 20 });
    try {
      const initial = await seen.until('initial', (u) => u.ok);
      assert.deepEqual(backendsOf(initial, 'web'), ['one=10.0.0.1:8080']);

      await client.put(`${P}services/web/backends/two`).value(JSON.stringify({ address: '10.0.0.2', port: 9090 }));
      const added = await seen.until('backend two', (u) => backendsOf(u, 'web').length === 2);
      assert.deepEqual(backendsOf(added, 'web'), ['one=10.0.0.1:8080', 'two=10.0.0.2:9090']);

      await client.delete().key(`${P}services/web/backends/one`);
      const removed = await seen.until('backend one gone', (u) => backendsOf(u, 'web').length === 1);
      assert.deepEqual(backendsOf(removed, 'web'), ['two=10.0.0.2:9090']);

      await client.put(`${P}services/api`).value(JSON.stringify({ internal_port: 0 }));
      const broken = await seen.until('error', (u) => !u.ok);
      assert.ok(!broken.ok && broken.error.message.includes('/quayside/lb/services/api: services.api.internal_port: must be a port number'));

      await client.put(`${P}services/api`).value('internal_port: 81\nvirtual_paths: [/api]\n');
      const fixed = await seen.until('fixed', (u) => u.ok && u.model.services.length === 2);
      assert.ok(fixed.ok);
    } finally {
      await watch.close();
    }
  });

  it('re-syncs after etcd restarts (changes made meanwhile are not lost)', async () => {
    const seen = collector();
    const watch = await watchEtcd(client, P, seen.push, { debounceMs: 20, retryMs: 200 });
    try {
      await seen.until('initial', (u) => u.ok);
      await etcd.stop({ keepData: true });
      etcd = await startEtcd({ dataDir: etcd.dataDir, clientPort: etcd.clientPort, peerPort: etcd.peerPort });
      await client.put(`${P}services/web/backends/three`).value('10.0.0.3:7000');
      const after = await seen.until('backend three', (u) => backendsOf(u, 'web').includes('three=10.0.0.3:7000'), 30_000);
      assert.ok(after.ok);
    } finally {
      await watch.close();
    }
  });
});
