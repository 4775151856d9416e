import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { CliError } from './cli-error.js';
import { parseCommandArgs, parsePort } from './args.js';
import { LbConfigError, formatIssue } from '../lb/errors.js';
import type { SourceDocument } from '../lb/document.js';
import type { LoadBalancerModel, RenderPaths } from '../lb/model.js';
import { certificateFiles, render } from '../lb/render.js';
import { loadYamlFile } from '../lb/sources/yaml-file.js';
import { ETCD_DEFAULT_PREFIX, loadEtcd } from '../lb/sources/etcd.js';
import { mergeSources } from '../lb/sources/merge.js';
import { checkConfigFile } from '../lb/haproxy/validate-config.js';
import { MasterSocket } from '../lb/haproxy/master-socket.js';
import { RuntimeApi, type StatRow } from '../lb/haproxy/runtime-api.js';
import { isUpStatus, type ServiceStatus } from '../lb/status.js';
import { startLoadBalancer } from '../lb/run.js';
import type { ControllerStatus } from '../lb/controller.js';

const HELP = `usage: quayside lb <command> [options]

  run       --config FILE [--etcd URL[,URL]] [--etcd-prefix P] [--state-dir DIR] [--debounce-ms 500]
            [--status-port 9101] [--status-address 127.0.0.1]
            run HAProxy and keep it in line with the sources (YAML file, etcd, or both)
  status    [--url http://127.0.0.1:9101 | --state-dir DIR] [--json]
            services, backends and health of a running balancer
  render    --config FILE [--etcd URL] [--etcd-prefix P] [--state-dir DIR]
            print the haproxy.cfg the sources produce
  validate  --config FILE [--etcd URL] [--etcd-prefix P]
            check the sources and the rendered configuration (haproxy -c)

  --state-dir defaults to ./quayside-lb (config, sockets, certificates). The YAML file is either Quayside's
  format (load_balancer: + services:) or a kontena.yml with KONTENA_LB_* environment keys.`;

const SOURCE_OPTIONS = {
  config: { type: 'string' },
  etcd: { type: 'string' },
  'etcd-prefix': { type: 'string' },
  'state-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** The documents of the sources named on the command line, merged into one model. */
async function modelFromFlags(config: string | undefined, etcdFlag: string | undefined, prefix: string | undefined): Promise<LoadBalancerModel> {
  if (config === undefined && etcdFlag === undefined) throw new CliError('quayside lb: give --config FILE and/or --etcd URL', 2);
  const documents: SourceDocument[] = [];
  if (config !== undefined) documents.push(await loadYamlFile(resolve(config)));
  if (etcdFlag !== undefined) {
    const client = new Etcd3({ hosts: splitList(etcdFlag), dialTimeout: 3000 });
    try {
      documents.push(await loadEtcd(client, prefix ?? ETCD_DEFAULT_PREFIX));
    } finally {
      client.close();
    }
  }
  return mergeSources(documents);
}

function splitList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function renderPathsFor(stateDir: string): RenderPaths {
  // The same layout the controller uses for its first generation, so that `render` shows what `run` loads.
  return { adminSocket: join(stateDir, 'admin.sock'), certDir: join(stateDir, 'certs-1'), serverStateFile: join(stateDir, 'server-state') };
}

function parseNonNegative(value: string, what: string): number {
  if (!/^\d{1,7}$/.test(value)) throw new CliError(`${what}: "${value}" is not a number of milliseconds`, 2);
  return Number(value);
}

async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('lb run', argv, {
    ...SOURCE_OPTIONS,
    'debounce-ms': { type: 'string' },
    'status-port': { type: 'string' },
    'status-address': { type: 'string' },
  });
  if (values.help) return help();
  if (values.config === undefined && values.etcd === undefined) throw new CliError('quayside lb run: give --config FILE and/or --etcd URL', 2);
  const logger = pino({ level: process.env.QUAYSIDE_LOG_LEVEL ?? 'info' });
  const lb = await startLoadBalancer({
    configPath: values.config === undefined ? undefined : resolve(values.config),
    etcdEndpoints: values.etcd === undefined ? undefined : splitList(values.etcd),
    etcdPrefix: values['etcd-prefix'],
    stateDir: resolve(values['state-dir'] ?? 'quayside-lb'),
    logger,
    debounceMs: values['debounce-ms'] === undefined ? 500 : parseNonNegative(values['debounce-ms'], 'debounce-ms'),
    statusPort: parsePort(values['status-port'] ?? '9101', 'status-port'),
    statusHost: values['status-address'] ?? '127.0.0.1',
  });
  logger.info({ statusPort: lb.statusPort }, 'quayside lb running (SIGINT or SIGTERM to stop)');
  let stopping = false;
  const outcome = await new Promise<number>((done) => {
    const onSignal = (): void => {
      stopping = true;
      done(0);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    void lb.controller.haproxyExited().then((code) => {
      if (stopping) return;
      logger.error({ code }, 'haproxy exited; stopping');
      done(1);
    });
  });
  await lb.stop();
  return outcome;
}

function help(): number {
  process.stdout.write(`${HELP}\n`);
  return 0;
}

async function renderCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('lb render', argv, SOURCE_OPTIONS);
  if (values.help) return help();
  const model = await modelFromFlags(values.config, values.etcd, values['etcd-prefix']);
  process.stdout.write(render(model, renderPathsFor(resolve(values['state-dir'] ?? 'quayside-lb'))));
  return 0;
}

async function validateCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('lb validate', argv, SOURCE_OPTIONS);
  if (values.help) return help();
  let model: LoadBalancerModel;
  try {
    model = await modelFromFlags(values.config, values.etcd, values['etcd-prefix']);
  } catch (err) {
    if (!(err instanceof LbConfigError)) throw err;
    for (const issue of err.issues) process.stderr.write(`invalid: ${formatIssue(issue)}\n`);
    return 1;
  }
  const dir = await mkdtemp(join(tmpdir(), 'qlb-validate-'));
  try {
    const paths = renderPathsFor(dir);
    await mkdir(paths.certDir, { recursive: true });
    for (const file of certificateFiles(model, paths)) await writeFile(file.path, file.contents, { mode: file.mode });
    // An empty state file, as the controller writes before its first start (HAProxy warns when it is missing).
    if (paths.serverStateFile !== undefined) await writeFile(paths.serverStateFile, '1\n');
    const cfg = join(dir, 'haproxy.cfg');
    await writeFile(cfg, render(model, paths));
    const check = await checkConfigFile(cfg);
    for (const w of check.warnings) process.stderr.write(`warning: ${w}\n`);
    if (!check.valid) {
      for (const e of check.errors) process.stderr.write(`invalid: haproxy -c: ${e}\n`);
      return 1;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const backends = model.services.reduce((n, s) => n + s.backends.length, 0);
  process.stdout.write(`valid: ${model.services.length} services, ${backends} backends, ${model.loadBalancer.certificates.length} certificates\n`);
  return 0;
}

function pad(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

function printServices(services: ServiceStatus[], header: string): void {
  const rows = [['SERVICE', 'BACKEND', 'ADDRESS', 'SERVER', 'STATUS', 'CHECK', 'SESSIONS']];
  for (const s of services) {
    if (s.backends.length === 0) rows.push([s.name, '-', '-', '-', 'no backends', '', '']);
    for (const b of s.backends) {
      rows.push([s.name, b.name, `${b.address}:${b.port}`, b.server, b.status, b.check, String(b.currentSessions)]);
    }
  }
  process.stdout.write(`${header}\n${pad(rows)}\n`);
}

/** Groups `show stat` rows into services when only the sockets are at hand (no model). */
function servicesFromStats(stats: StatRow[]): ServiceStatus[] {
  const services = new Map<string, ServiceStatus>();
  for (const row of stats) {
    if (!row.proxy.startsWith('be_') || row.name === 'BACKEND' || row.name === 'FRONTEND') continue;
    // Empty spare slots are in maintenance at 0.0.0.0: not backends.
    if (/^slot-\d+$/.test(row.name) && row.status === 'MAINT' && (row.fields.addr ?? '').startsWith('0.0.0.0')) continue;
    const name = row.proxy.slice(3);
    const s = services.get(name) ?? { name, mode: row.fields.mode ?? '', balance: '', backendsUp: 0, backendsDown: 0, backends: [] };
    const [address = '', port = '0'] = (row.fields.addr ?? '').split(/:(?=\d+$)/);
    const up = isUpStatus(row.status);
    s.backends.push({ name: row.name, address, port: Number(port), server: row.name, status: row.status, check: row.checkStatus, currentSessions: row.currentSessions, totalSessions: row.totalSessions, up });
    if (up) s.backendsUp++;
    else s.backendsDown++;
    services.set(name, s);
  }
  return [...services.values()];
}

async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('lb status', argv, {
    url: { type: 'string' },
    'state-dir': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return help();
  if (values.url !== undefined && values['state-dir'] !== undefined) throw new CliError('quayside lb status: give --url or --state-dir, not both', 2);
  if (values['state-dir'] !== undefined) {
    const dir = resolve(values['state-dir']);
    const proc = await new MasterSocket(join(dir, 'master.sock')).showProc();
    const services = servicesFromStats(await new RuntimeApi(join(dir, 'admin.sock')).showStat());
    if (values.json) process.stdout.write(`${JSON.stringify({ haproxy: proc, services }, null, 2)}\n`);
    else printServices(services, `haproxy master ${proc.master.pid}, workers ${proc.workers.map((w) => w.pid).join(',')}, reloads ${proc.master.reloads}`);
    return services.every((s) => s.backendsDown === 0) ? 0 : 3;
  }
  const base = (values.url ?? 'http://127.0.0.1:9101').replace(/\/+$/, '');
  let status: ControllerStatus;
  try {
    const res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    status = (await res.json()) as ControllerStatus;
  } catch (err) {
    // fetch() says only "fetch failed"; the reason (refused, unknown host, timeout) is in its cause.
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
    const reason = cause ?? (err instanceof Error ? err.message : String(err));
    throw new CliError(`quayside lb status: cannot reach the controller at ${base}/status: ${reason}`);
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
  } else {
    const h = status.haproxy;
    const last = status.lastReload ? `last reload ${status.lastReload.at} (${status.lastReload.reason})` : 'no reload yet';
    printServices(status.services, `haproxy ${h.running ? 'running' : 'NOT RUNNING'}: master ${h.masterPid ?? '-'}, workers ${h.workerPids.join(',') || '-'}, reloads ${h.reloads ?? '-'}; ${last}`);
    if (status.lastError) process.stdout.write(`last error (${status.lastError.at}): ${status.lastError.message}\n`);
  }
  return status.haproxy.running && status.services.every((s) => s.backendsDown === 0) ? 0 : 3;
}

/** `quayside lb ...`: returns the exit code; every error is one readable line on stderr. */
export async function runLbCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const commands: Record<string, (args: string[]) => Promise<number>> = {
    run: runCommand,
    status: statusCommand,
    render: renderCommand,
    validate: validateCommand,
  };
  // No command is a usage error (exit 2), as for `quayside` itself; asking for help is not.
  if (sub === undefined) {
    help();
    return 2;
  }
  if (sub === '--help' || sub === '-h' || sub === 'help') return help();
  const command = commands[sub];
  if (!command) {
    process.stderr.write(`quayside lb: unknown command "${sub}" (run, status, render, validate)\n`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`${err.message}\n`);
      return err.exitCode;
    }
    const message = err instanceof LbConfigError ? err.issues.map(formatIssue).join('; ') : err instanceof Error ? err.message : String(err);
    process.stderr.write(`quayside lb ${sub}: ${message.split('\n').join('; ')}\n`);
    return 1;
  }
}
