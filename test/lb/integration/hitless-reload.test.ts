// Hitless reload: constant load through the balancer (keep-alive clients and Connection: close clients, on
// loopback) while the controller applies 32 structural changes, each one a confirmed HAProxy reload. Not one
// request may fail. The test is bounded by count (every change, with requests served after each), not by a
// wall-clock window: a loaded machine makes it slower, never red.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { startHttpBackend, type HttpBackend } from '../../helpers/backends.js';
import { get, startTestLb, waitFor, type TestLb } from '../../helpers/haproxy.js';
import { freePort } from '../../helpers/processes.js';

const CHANGES = 32;
const CLIENTS = 6;
// Per request and per condition: far longer than anything takes, so that only a real failure fails.
const PATIENCE_MS = 60_000;

describe('hitless reload under load', () => {
  let one: HttpBackend;
  let two: HttpBackend;
  let lb: TestLb;
  let http: number;

  const yaml = (extraHost: number) => `
load_balancer:
  bind_address: 127.0.0.1
  http_ports: [${http}]
services:
  web:
    internal_port: 80
    virtual_hosts: [web.test, v${extraHost}.web.test]
    backends: ["127.0.0.1:${one.port}", "127.0.0.1:${two.port}"]
`;

  before(async () => {
    one = await startHttpBackend('one');
    two = await startHttpBackend('two');
    http = await freePort();
    lb = await startTestLb(yaml(0), { debounceMs: 50 });
  });

  after(async () => {
    await lb?.stop();
    await one?.close();
    await two?.close();
  });

  it(`serves every request while ${CHANGES} structural changes are reloaded`, { timeout: 600_000 }, async (t) => {
    const started = Date.now();
    let stop = false;
    const failures: string[] = [];
    let ok = 0;
    const client = async (agent: Agent | undefined): Promise<void> => {
      while (!stop) {
        try {
          const res = await get(http, { host: 'web.test', path: '/load', agent, timeoutMs: PATIENCE_MS });
          if (res.status === 200) ok++;
          else failures.push(`status ${res.status}`);
        } catch (err) {
          failures.push(err instanceof Error ? err.message : String(err));
        }
      }
    };
    const agents = Array.from({ length: CLIENTS / 2 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    const clients = [...agents.map((a) => client(a)), ...Array.from({ length: CLIENTS / 2 }, () => client(undefined))];

    const before = await lb.masterReloads();
    try {
      for (let i = 1; i <= CHANGES; i++) {
        const servedBefore = ok;
        await lb.writeConfig(yaml(i));
        // Each change is a new virtual host: wait until it routes, i.e. until its reload is done.
        await waitFor(`change ${i} live`, async () => (await get(http, { host: `v${i}.web.test`, timeoutMs: PATIENCE_MS })).status === 200, PATIENCE_MS, 20);
        // The load goes on across every reload: as many requests as there are clients served since this change.
        await waitFor(`requests served around change ${i}`, async () => ok >= servedBefore + CLIENTS, PATIENCE_MS, 5);
      }
    } finally {
      stop = true;
      await Promise.all(clients);
      for (const a of agents) a.destroy();
    }
    const reloads = (await lb.masterReloads()) - before;
    t.diagnostic(`${ok} requests, ${failures.length} failed, ${reloads} reloads in ${Date.now() - started} ms`);
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failed requests of ${ok + failures.length}`);
    assert.ok(reloads >= 30, `only ${reloads} reloads happened for ${CHANGES} changes`);
    const status = await lb.lb.controller.status();
    assert.equal(status.reloadFailures, 0);
    assert.ok(status.reloads >= 30);
  });
});
