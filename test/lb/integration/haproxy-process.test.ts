// The HAProxy process-control layer against a real HAProxy with a hand-written configuration: start and
// stop, master CLI reload confirmation (success and failure), the runtime API, and `haproxy -c`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HaproxyProcess, HaproxyStartError } from '../../../src/lb/haproxy/process.js';
import { parseShowProc, ReloadError } from '../../../src/lb/haproxy/master-socket.js';
import { parseShowStat, RuntimeApi, RuntimeApiError } from '../../../src/lb/haproxy/runtime-api.js';
import { checkConfigFile, parseCheckOutput } from '../../../src/lb/haproxy/validate-config.js';
import { sendCliCommand } from '../../../src/lb/haproxy/cli-socket.js';
import { startHttpBackend, type HttpBackend } from '../../helpers/backends.js';
import { backendOf, get, makeCertificate, requireLbTools, servedCertificateCn, tempDir, waitFor } from '../../helpers/haproxy.js';
import { freePort } from '../../helpers/processes.js';

function config(dir: string, port: number, tlsPort: number, backendPort: number, extra = ''): string {
  return `global
  stats socket ${dir}/admin.sock mode 600 level admin
  hard-stop-after 10s
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
  option idle-close-on-response
frontend f
  bind 127.0.0.1:${port}
  bind 127.0.0.1:${tlsPort} ssl crt ${dir}/site.pem
  default_backend b
backend b
  balance roundrobin
  option httpchk GET /health
  server s1 127.0.0.1:${backendPort} check inter 200ms
  server slot-1 127.0.0.1:1 check inter 200ms disabled
${extra}`;
}

describe('haproxy process, master socket and runtime API', () => {
  let dir: { path: string; remove(): Promise<void> };
  let proc: HaproxyProcess;
  let one: HttpBackend;
  let two: HttpBackend;
  let port: number;
  let tlsPort: number;
  let cfg: string;

  before(async () => {
    requireLbTools();
    dir = await tempDir();
    one = await startHttpBackend('one');
    two = await startHttpBackend('two');
    port = await freePort();
    tlsPort = await freePort();
    await writeFile(join(dir.path, 'site.pem'), await makeCertificate(dir.path, 'first.test'));
    cfg = join(dir.path, 'haproxy.cfg');
    await writeFile(cfg, config(dir.path, port, tlsPort, one.port));
    proc = new HaproxyProcess({ configPath: cfg, masterSocketPath: join(dir.path, 'master.sock'), pidFile: join(dir.path, 'pid') });
    await proc.start();
  });

  after(async () => {
    await proc?.stop(2000);
    await one?.close();
    await two?.close();
    await dir?.remove();
  });

  it('serves traffic and reports one worker', async () => {
    assert.equal(backendOf(await get(port)), 'one');
    const table = await proc.master.showProc();
    assert.equal(table.workers.length, 1);
    assert.equal(table.master.pid, proc.pid);
  });

  it('confirms a reload: new worker, higher reload counter', async () => {
    const before = await proc.master.showProc();
    const result = await proc.master.reload({ logMark: () => proc.logMark(), logSince: (m) => proc.logSince(m) });
    assert.equal(result.masterReloads, before.master.reloads + 1);
    assert.notDeepEqual(result.workerPids, before.workers.map((w) => w.pid));
    assert.equal(backendOf(await get(port)), 'one');
  });

  it('reports a failed reload with HAProxy\'s error and keeps the old worker serving', async () => {
    const before = await proc.master.showProc();
    await writeFile(cfg, config(dir.path, port, tlsPort, one.port, '  bogus-keyword here\n'));
    await assert.rejects(
      proc.master.reload({ logMark: () => proc.logMark(), logSince: (m) => proc.logSince(m) }),
      (err: unknown) => err instanceof ReloadError && /bogus-keyword/.test(err.message),
    );
    const after = await proc.master.showProc();
    assert.deepEqual(after.workers.map((w) => w.pid), before.workers.map((w) => w.pid));
    assert.equal(backendOf(await get(port)), 'one');
    await writeFile(cfg, config(dir.path, port, tlsPort, one.port));
    await proc.master.reload();
  });

  it('fills a slot, drains and re-addresses servers through the runtime API without a reload', async () => {
    const api = new RuntimeApi(join(dir.path, 'admin.sock'));
    const reloads = (await proc.master.showProc()).master.reloads;
    await api.setServerAddr('b', 'slot-1', '127.0.0.1', two.port);
    await api.setServerState('b', 'slot-1', 'ready');
    const seen = await waitFor('both backends answering', async () => {
      const names = new Set<string>();
      for (let i = 0; i < 6; i++) names.add(backendOf(await get(port)));
      return names.size === 2 ? names : undefined;
    });
    assert.deepEqual([...seen].sort(), ['one', 'two']);
    await api.setServerState('b', 's1', 'maint');
    for (let i = 0; i < 4; i++) assert.equal(backendOf(await get(port)), 'two');
    await api.setServerAddr('b', 'slot-1', '127.0.0.1', one.port);
    assert.equal(backendOf(await get(port)), 'one');
    await api.setServerState('b', 's1', 'ready');
    const state = await api.showServersState('b');
    assert.equal(state.find((s) => s.server === 'slot-1')?.port, one.port);
    const stat = await api.showStat();
    assert.ok(stat.some((r) => r.proxy === 'b' && r.name === 's1'));
    const info = await api.showInfo();
    assert.match(info.Version ?? '', /^2\./);
    assert.equal((await proc.master.showProc()).master.reloads, reloads);
  });

  it('marks a backend failing its health check DOWN and brings it back', async () => {
    const api = new RuntimeApi(join(dir.path, 'admin.sock'));
    one.setHealthy(false);
    await waitFor('s1 DOWN', async () => (await api.showStat()).find((r) => r.name === 's1')?.status.startsWith('DOWN'));
    one.setHealthy(true);
    await waitFor('s1 UP', async () => (await api.showStat()).find((r) => r.name === 's1')?.status === 'UP');
  });

  it('refuses bad runtime commands with HAProxy\'s answer', async () => {
    const api = new RuntimeApi(join(dir.path, 'admin.sock'));
    await assert.rejects(api.setServerState('b', 'nosuch', 'ready'), (e: unknown) => e instanceof RuntimeApiError && /No such server/.test(e.message));
    await assert.rejects(api.setServerAddr('b', 'slot-1', '127.0.0.1 port 1\nshow info', 80), /invalid address/);
    await assert.rejects(api.setServerAddr('b', 'slot-1', '127.0.0.1', 70000), /invalid port/);
    await assert.rejects(api.updateCertificate(join(dir.path, 'site.pem'), 'not a pem'), RuntimeApiError);
    await assert.rejects(sendCliCommand(join(dir.path, 'nope.sock'), 'show info'), /ENOENT/);
  });

  it('adds and deletes a dynamic server', async () => {
    const api = new RuntimeApi(join(dir.path, 'admin.sock'));
    await api.addServer('b', 'dyn1', '127.0.0.1', two.port);
    await assert.rejects(api.addServer('b', 'dyn1', '127.0.0.1', two.port), /Already exists/);
    await api.setServerState('b', 'dyn1', 'maint');
    await api.delServer('b', 'dyn1');
    await assert.rejects(api.delServer('b', 'dyn1'), /No such server/);
  });

  it('replaces a certificate in memory with set/commit ssl cert', async () => {
    const api = new RuntimeApi(join(dir.path, 'admin.sock'));
    assert.equal(await servedCertificateCn(tlsPort, 'first.test'), 'first.test');
    await api.updateCertificate(join(dir.path, 'site.pem'), await makeCertificate(dir.path, 'second.test'));
    assert.equal(await servedCertificateCn(tlsPort, 'first.test'), 'second.test');
  });

  it('checks candidate files with haproxy -c', async () => {
    const good = await checkConfigFile(cfg);
    assert.equal(good.valid, true);
    assert.deepEqual(good.errors, []);
    const badPath = join(dir.path, 'bad.cfg');
    await writeFile(badPath, config(dir.path, port, tlsPort, one.port, '  unknown-directive 1\n'));
    const bad = await checkConfigFile(badPath);
    assert.equal(bad.valid, false);
    assert.ok(bad.errors.some((e) => e.includes("unknown keyword 'unknown-directive'")), bad.errors.join('\n'));
    const missing = await checkConfigFile(join(dir.path, 'missing.cfg'));
    assert.equal(missing.valid, false);
    await assert.rejects(checkConfigFile(cfg, { haproxyBin: '/nonexistent/haproxy' }), /cannot run/);
  });

  it('stops cleanly and refuses to start on a broken file', async () => {
    const d = await tempDir();
    try {
      const path = join(d.path, 'broken.cfg');
      await writeFile(path, 'global\n  nonsense\n');
      const p = new HaproxyProcess({ configPath: path, masterSocketPath: join(d.path, 'm.sock'), pidFile: join(d.path, 'pid') });
      await assert.rejects(p.start(5000), (e: unknown) => e instanceof HaproxyStartError && /nonsense/.test(e.message));
      assert.equal(p.running, false);
    } finally {
      await d.remove();
    }
  });
});

describe('CLI answer parsers', () => {
  it('parses show proc with old workers', () => {
    const t = parseShowProc(
      '#<PID>          <type>          <reloads>       <uptime>        <version>\n' +
        '9393            master          5 [failed: 1]   0d00h00m29s     2.6.12\n# workers\n' +
        '10101           worker          0               0d00h00m01s     2.6.12\n# old workers\n' +
        '10057           worker          1               0d00h00m02s     2.6.12\n# programs\n\n',
    );
    assert.equal(t.master.reloads, 5);
    assert.equal(t.master.failedReloads, 1);
    assert.deepEqual(t.workers.map((w) => w.pid), [10101]);
    assert.deepEqual(t.oldWorkers.map((w) => w.pid), [10057]);
    assert.throws(() => parseShowProc('Unknown command'), /unexpected/);
  });

  it('parses show stat CSV and haproxy -c output', () => {
    const rows = parseShowStat('# pxname,svname,scur,stot,status,check_status,type\nb,s1,2,10,UP,L7OK,2\nb,BACKEND,2,10,UP,,1\n');
    assert.equal(rows.length, 2);
    assert.equal(rows[0]?.currentSessions, 2);
    assert.equal(rows[0]?.checkStatus, 'L7OK');
    assert.throws(() => parseShowStat('Permission denied\n'), /unexpected/);
    const out = parseCheckOutput('[NOTICE]   (1) : x\n[WARNING]  (1) : w1\n[ALERT]    (1) : config : e1\n');
    assert.deepEqual(out, { errors: ['config : e1'], warnings: ['w1'] });
  });
});
