// Load-balancer benchmark (node dist/bench/lb-bench.js):
//  1. requests/s (median of five interleaved runs each) through a Quayside-rendered haproxy.cfg versus a hand-written minimal one for the same route
//     and the same backend (wrk -t2 -c64 -d10s on loopback), with the ratio;
//  2. time from a YAML change and from an etcd change to the change being live, polled through the balancer,
//     for structural changes (a reload) and backend-only changes (runtime API), 20+ samples each: p50 / p95.
// The backend is itself a tiny HAProxy answering 200 from memory, so the backend is never the bottleneck.
import { execFile } from 'node:child_process';
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import { destination, pino } from 'pino';
import { HaproxyProcess } from '../src/lb/haproxy/process.js';
import { render } from '../src/lb/render.js';
import { startLoadBalancer, type RunningLb } from '../src/lb/run.js';
import { parseYamlSource } from '../src/lb/sources/yaml-file.js';
import { buildModel } from '../src/lb/validate.js';
import { startEtcd } from '../test/helpers/etcd.js';
import { get, tempDir } from '../test/helpers/haproxy.js';
import { freePort, requireCommand } from '../test/helpers/processes.js';

const SAMPLES = Number(process.env.LB_BENCH_SAMPLES ?? 20);
const WRK_DURATION = process.env.LB_BENCH_WRK_DURATION ?? (process.argv.includes('--quick') ? '3s' : '10s');
const DEBOUNCE_MS = 500;
const THROUGHPUT_ROUNDS = 5;

function wrk(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(
      'wrk',
      ['-t2', '-c64', `-d${WRK_DURATION}`, '-H', `Host: ${host}`, `http://127.0.0.1:${port}/`],
      { timeout: 120_000 },
      (err, stdout) => {
        if (err) return reject(err);
        const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
        const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(stdout);
        if (!rps) return reject(new Error(`cannot read wrk output:\n${stdout}`));
        if (errors) process.stderr.write(`wrk reported: ${errors[0]}\n`);
        resolve(Number(rps[1]));
      },
    );
  });
}

/** The benchmark's lb.yaml: one http service on `hosts`, balancing over local `backends`. */
function lbYaml(port: number, hosts: string[], backends: number[]): string {
  return (
    `load_balancer:\n  bind_address: 127.0.0.1\n  http_ports: [${port}]\n  spare_slots: 2\n  maxconn: 4096\n` +
    `services:\n  bench:\n    internal_port: 80\n    virtual_hosts: [${hosts.join(', ')}]\n` +
    `    backends: [${backends.map((p) => `"127.0.0.1:${p}"`).join(', ')}]\n`
  );
}

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? NaN;
}

/** Polls through the balancer until `host` answers 200; returns the elapsed ms since `started`. */
async function untilLive(port: number, host: string, started: number, expectBody?: string): Promise<number> {
  const deadline = started + 10_000;
  while (Date.now() < deadline) {
    try {
      const res = await get(port, { host, timeoutMs: 1000 });
      if (res.status === 200 && (expectBody === undefined || res.body.includes(expectBody))) return Date.now() - started;
    } catch {
      // Connection refused during a restart would be a bug, but keep polling to report the time.
    }
    await sleep(5);
  }
  throw new Error(`${host} not live after 10 s`);
}

async function main(): Promise<void> {
  requireCommand('wrk', 'apt-get install wrk');
  requireCommand('haproxy', 'apt-get install haproxy');
  const dir = await tempDir('qlb-bench-');
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    // The shared backend: an HAProxy answering from memory (one per answer text, to tell backends apart).
    const backendPorts = [await freePort(), await freePort()];
    const backendCfg = join(dir.path, 'backend.cfg');
    await writeFile(
      backendCfg,
      `global\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n` +
        backendPorts
          .map((p, i) => `frontend answer${i}\n  bind 127.0.0.1:${p}\n  http-request return status 200 content-type text/plain string "backend-${i}"\n`)
          .join(''),
    );
    const backend = new HaproxyProcess({ configPath: backendCfg, masterSocketPath: join(dir.path, 'backend-master.sock'), pidFile: join(dir.path, 'backend.pid') });
    await backend.start();
    cleanups.push(() => backend.stop(1000));

    // 1. Throughput: hand-written minimal config.
    const handPort = await freePort();
    const handCfg = join(dir.path, 'hand.cfg');
    await writeFile(
      handCfg,
      `global\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n` +
        `frontend fe\n  bind 127.0.0.1:${handPort}\n  acl host_bench req.hdr(host),field(1,:),lower -m str bench.test\n  use_backend be_bench if host_bench\n` +
        `backend be_bench\n  server s1 127.0.0.1:${backendPorts[0]}\n`,
    );
    const hand = new HaproxyProcess({ configPath: handCfg, masterSocketPath: join(dir.path, 'hand-master.sock'), pidFile: join(dir.path, 'hand.pid') });
    await hand.start();
    await untilLive(handPort, 'bench.test', Date.now());
    cleanups.push(() => hand.stop(1000));

    // The Quayside-rendered configuration for the same route, run exactly like the hand-written one (same
    // process control, no controller, no etcd, no status polling), so that the ratio measures the
    // configuration and nothing else on this 2-core machine.
    const renderedPort = await freePort();
    const renderedCfg = join(dir.path, 'rendered.cfg');
    const renderedModel = buildModel(parseYamlSource(lbYaml(renderedPort, ['bench.test'], [backendPorts[0] ?? 0]), 'bench.yaml'));
    await writeFile(renderedCfg, render(renderedModel, { adminSocket: join(dir.path, 'rendered-admin.sock'), certDir: join(dir.path, 'rendered-certs') }));
    const rendered = new HaproxyProcess({ configPath: renderedCfg, masterSocketPath: join(dir.path, 'rendered-master.sock'), pidFile: join(dir.path, 'rendered.pid') });
    await rendered.start();
    cleanups.push(() => rendered.stop(1000));
    await untilLive(renderedPort, 'bench.test', Date.now());
    // Interleaved runs (hand, quayside, hand, quayside, ...): a busy 2-core machine drifts by 20 % from one
    // run to the next, so each configuration gets several runs and the medians are compared.
    const handRuns: number[] = [];
    const quaysideRuns: number[] = [];
    for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
      handRuns.push(await wrk(handPort, 'bench.test'));
      quaysideRuns.push(await wrk(renderedPort, 'bench.test'));
    }
    await hand.stop(1000);
    await rendered.stop(1000);

    // The control plane: the controller driven from a YAML file, with etcd as a second source.
    const etcdServer = await startEtcd();
    cleanups.push(() => etcdServer.stop());
    const etcd = new Etcd3({ hosts: etcdServer.endpoint });
    cleanups.push(async () => etcd.close());
    const prefix = '/bench/lb/';
    const lbPort = await freePort();
    const yamlPath = join(dir.path, 'lb.yaml');
    let serial = 0;
    const writeYaml = async (hosts: string[], backends: number[]): Promise<void> => {
      const tmp = join(dir.path, `.lb.yaml.${++serial}`);
      await writeFile(tmp, lbYaml(lbPort, hosts, backends));
      await rename(tmp, yamlPath);
    };
    await writeYaml(['bench.test'], [backendPorts[0] ?? 0]);
    const logger = pino({ level: process.env.QUAYSIDE_LOG_LEVEL ?? 'error' }, destination(2));
    const lb: RunningLb = await startLoadBalancer({
      configPath: yamlPath,
      etcdEndpoints: [etcdServer.endpoint],
      etcdPrefix: prefix,
      stateDir: join(dir.path, 'state'),
      logger,
      debounceMs: DEBOUNCE_MS,
      statusPort: null,
    });
    cleanups.unshift(() => lb.stop());
    await untilLive(lbPort, 'bench.test', Date.now());
    const median = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      const middle = Math.floor(sorted.length / 2);
      return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
    };
    const handRps = median(handRuns);
    const quaysideRps = median(quaysideRuns);

    // 2. Change-to-live latency. Samples are spaced by more than the debounce window, so each one measures
    // a change applied on its own (the debounce only delays changes that follow a reload closely).
    const yamlStructural: number[] = [];
    const yamlBackends: number[] = [];
    const etcdStructural: number[] = [];
    const etcdBackends: number[] = [];
    const hosts = ['bench.test'];
    let current = 0;
    for (let i = 0; i < SAMPLES; i++) {
      hosts.push(`y${i}.bench.test`);
      let started = Date.now();
      await writeYaml(hosts, [backendPorts[current] ?? 0]);
      yamlStructural.push(await untilLive(lbPort, `y${i}.bench.test`, started));
      await sleep(DEBOUNCE_MS + 100);
      // Backend-only: swap the backend between the two answers (runtime API: remove one, fill a slot).
      const to = 1 - current;
      current = to;
      started = Date.now();
      await writeYaml(hosts, [backendPorts[to] ?? 0]);
      yamlBackends.push(await untilLive(lbPort, 'bench.test', started, `backend-${to}`));
      await sleep(100);
    }
    await etcd.put(`${prefix}services/frometcd`).value(JSON.stringify({ internal_port: 80, virtual_hosts: ['etcd.bench.test'] }));
    await etcd.put(`${prefix}services/frometcd/backends/b0`).value(`127.0.0.1:${backendPorts[0]}`);
    await untilLive(lbPort, 'etcd.bench.test', Date.now());
    await sleep(DEBOUNCE_MS + 100);
    const etcdHosts = ['etcd.bench.test'];
    for (let i = 0; i < SAMPLES; i++) {
      etcdHosts.push(`e${i}.bench.test`);
      let started = Date.now();
      await etcd.put(`${prefix}services/frometcd`).value(JSON.stringify({ internal_port: 80, virtual_hosts: etcdHosts }));
      etcdStructural.push(await untilLive(lbPort, `e${i}.bench.test`, started));
      await sleep(DEBOUNCE_MS + 100);
      const to = i % 2 === 0 ? 1 : 0;
      started = Date.now();
      await etcd.put(`${prefix}services/frometcd/backends/b0`).value(`127.0.0.1:${backendPorts[to]}`);
      etcdBackends.push(await untilLive(lbPort, 'etcd.bench.test', started, `backend-${to}`));
      await sleep(100);
    }
    const status = await lb.controller.status();

    const ratio = quaysideRps / handRps;
    const line = (cells: string[], widths: number[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 10)).join('  ');
    const out: string[] = [];
    out.push('', `Throughput (wrk -t2 -c64 -d${WRK_DURATION}, loopback, same backend and route)`);
    const w1 = [34, 14];
    out.push(line(['config', 'requests/s'], w1));
    const runs = (xs: number[]) => `  (runs: ${xs.map((x) => x.toFixed(0)).join(', ')})`;
    out.push(line(['hand-written minimal haproxy.cfg', handRps.toFixed(0) + runs(handRuns)], w1));
    out.push(line(['quayside-rendered haproxy.cfg', quaysideRps.toFixed(0) + runs(quaysideRuns)], w1));
    out.push(line(['ratio quayside / hand-written', `${ratio.toFixed(3)}x  (target >= 0.98x: ${ratio >= 0.98 ? 'met' : 'NOT met'})`], w1));
    out.push('', `Change to live, polled through the balancer (${SAMPLES} samples each, debounce ${DEBOUNCE_MS} ms)`);
    const w2 = [44, 9, 9, 9, 10];
    out.push(line(['change', 'p50 ms', 'p95 ms', 'max ms', 'p95 < 1s'], w2));
    const row = (name: string, xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      const p95 = percentile(s, 95);
      out.push(line([name, String(percentile(s, 50)), String(p95), String(s[s.length - 1]), p95 < 1000 ? 'yes' : 'NO'], w2));
    };
    row('YAML: new virtual host (reload)', yamlStructural);
    row('YAML: backend swapped (runtime API)', yamlBackends);
    row('etcd: new virtual host (reload)', etcdStructural);
    row('etcd: backend re-addressed (runtime API)', etcdBackends);
    out.push('', `reloads by the controller: ${status.reloads}, failed: ${status.reloadFailures}, runtime updates: ${status.runtimeUpdates}`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
    await dir.remove();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`lb-bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
