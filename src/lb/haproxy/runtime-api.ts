import { sendCliCommand } from './cli-socket.js';

/** Raised when HAProxy refuses a runtime command; `answer` is its reply. */
export class RuntimeApiError extends Error {
  constructor(
    readonly command: string,
    readonly answer: string,
  ) {
    super(`haproxy refused "${command.split(' <<')[0]}": ${answer.trim() || '(empty answer)'}`);
    this.name = 'RuntimeApiError';
  }
}

/** One row of `show stat`: every CSV column by name, plus the ones this project reads, typed. */
export interface StatRow {
  proxy: string;
  /** FRONTEND, BACKEND or a server name. */
  name: string;
  /** UP, DOWN, MAINT, DRAIN, OPEN, "UP 1/3", "no check", ... */
  status: string;
  currentSessions: number;
  totalSessions: number;
  checkStatus: string;
  /** 0 frontend, 1 backend, 2 server, 3 listener. */
  type: number;
  fields: Record<string, string>;
}

/** One row of `show servers state`. */
export interface ServerState {
  backendId: number;
  backend: string;
  serverId: number;
  server: string;
  address: string;
  /** 0 stopped, 1 starting, 2 running, 3 stopping. */
  operationalState: number;
  /** Bit field: 0x01 forced maint, 0x04 config maint, 0x08 forced drain, ... */
  adminState: number;
  port: number;
  fields: Record<string, string>;
}

export type ServerAdminState = 'ready' | 'drain' | 'maint';

export interface RuntimeApiOptions {
  timeoutMs?: number;
}

/** Parses `show stat` CSV (pure). */
export function parseShowStat(text: string): StatRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const headerLine = lines.find((l) => l.startsWith('# '));
  if (!headerLine) throw new Error(`unexpected "show stat" answer: ${JSON.stringify(text.slice(0, 200))}`);
  const header = headerLine.slice(2).split(',');
  const rows: StatRow[] = [];
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    const cells = line.split(',');
    const fields: Record<string, string> = {};
    header.forEach((name, i) => {
      if (name !== '') fields[name] = cells[i] ?? '';
    });
    rows.push({
      proxy: fields.pxname ?? '',
      name: fields.svname ?? '',
      status: fields.status ?? '',
      currentSessions: Number(fields.scur || 0),
      totalSessions: Number(fields.stot || 0),
      checkStatus: fields.check_status ?? '',
      type: Number(fields.type || -1),
      fields,
    });
  }
  return rows;
}

/** Parses `show servers state` (format version 1, pure). */
export function parseServersState(text: string): ServerState[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const headerLine = lines.find((l) => l.startsWith('# '));
  if (!headerLine) throw new Error(`unexpected "show servers state" answer: ${JSON.stringify(text.slice(0, 200))}`);
  const header = headerLine.slice(2).trim().split(/\s+/);
  const states: ServerState[] = [];
  for (const line of lines) {
    // The first line is the bare format version.
    if (line.startsWith('#') || /^\d+$/.test(line.trim())) continue;
    const cells = line.trim().split(/\s+/);
    const fields: Record<string, string> = {};
    header.forEach((name, i) => (fields[name] = cells[i] ?? ''));
    states.push({
      backendId: Number(fields.be_id),
      backend: fields.be_name ?? '',
      serverId: Number(fields.srv_id),
      server: fields.srv_name ?? '',
      address: fields.srv_addr ?? '',
      operationalState: Number(fields.srv_op_state),
      adminState: Number(fields.srv_admin_state),
      port: Number(fields.srv_port),
      fields,
    });
  }
  return states;
}

/** Parses `show info` ("Key: value" lines, pure). */
export function parseShowInfo(text: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) info[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return info;
}

/** Names go into a one-line text protocol: refuse anything that could split or extend a command. */
function checkToken(kind: string, value: string): string {
  if (!/^[A-Za-z0-9_.:\-/]+$/.test(value)) throw new Error(`invalid ${kind} for the runtime API: ${JSON.stringify(value)}`);
  return value;
}

/**
 * Typed client for HAProxy's admin stats socket. One command per connection, each with a timeout;
 * replies are checked against HAProxy's success wording so that a refusal becomes a RuntimeApiError.
 */
export class RuntimeApi {
  private readonly timeoutMs: number;

  constructor(
    readonly socketPath: string,
    options: RuntimeApiOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 2000;
  }

  /** Sends a raw command and returns HAProxy's answer unchecked. */
  command(command: string, payload?: string): Promise<string> {
    return sendCliCommand(this.socketPath, command, { timeoutMs: this.timeoutMs, payload });
  }

  /** `show info` as a key/value map (Pid, Uptime_sec, CurrConns, ...). */
  async showInfo(): Promise<Record<string, string>> {
    return parseShowInfo(await this.command('show info'));
  }

  /** `show stat`: frontends, backends and servers with their status. */
  async showStat(): Promise<StatRow[]> {
    return parseShowStat(await this.command('show stat'));
  }

  /** `show servers state [backend]`. */
  async showServersState(backend?: string): Promise<ServerState[]> {
    const cmd = backend === undefined ? 'show servers state' : `show servers state ${checkToken('backend', backend)}`;
    return parseServersState(await this.command(cmd));
  }

  /** `set server <b>/<s> addr <ip> port <p>`. */
  async setServerAddr(backend: string, server: string, ip: string, port: number): Promise<void> {
    const cmd = `set server ${this.target(backend, server)} addr ${checkToken('address', ip)} port ${checkPort(port)}`;
    await this.expect(cmd, /changed|no need to change/);
  }

  /** `set server <b>/<s> state ready|drain|maint`. */
  async setServerState(backend: string, server: string, state: ServerAdminState): Promise<void> {
    await this.expect(`set server ${this.target(backend, server)} state ${state}`, /^$/);
  }

  /** `enable health <b>/<s>` (health checks of dynamic servers start disabled). */
  async enableHealth(backend: string, server: string): Promise<void> {
    await this.expect(`enable health ${this.target(backend, server)}`, /^$/);
  }

  /**
   * `add server <b>/<s> <ip>:<port> [keywords]`. HAProxy creates dynamic servers in maintenance, so the
   * caller decides when to make them ready (after `enableHealth` when checks are wanted).
   */
  async addServer(backend: string, server: string, ip: string, port: number, keywords: string[] = []): Promise<void> {
    for (const k of keywords) checkToken('server keyword', k);
    const addr = ip.includes(':') ? `[${checkToken('address', ip)}]` : checkToken('address', ip);
    const cmd = `add server ${this.target(backend, server)} ${addr}:${checkPort(port)}${keywords.length ? ` ${keywords.join(' ')}` : ''}`;
    await this.expect(cmd, /New server registered/);
  }

  /** `del server <b>/<s>`; HAProxy refuses while the server is not in maintenance or has connections. */
  async delServer(backend: string, server: string): Promise<void> {
    await this.expect(`del server ${this.target(backend, server)}`, /Server deleted/);
  }

  /** Replaces a certificate's content in memory (`set ssl cert` + `commit ssl cert`), no reload. */
  async updateCertificate(path: string, pem: string): Promise<void> {
    checkToken('certificate path', path);
    // An empty line ends the payload, so the PEM must not contain one.
    const payload = pem
      .split('\n')
      .map((l) => l.trimEnd())
      .filter((l) => l !== '')
      .join('\n');
    try {
      await this.expect(`set ssl cert ${path} <<`, /Transaction (created|updated)/, payload);
      await this.expect(`commit ssl cert ${path}`, /Success!/);
    } catch (err) {
      await this.command(`abort ssl cert ${path}`).catch(() => undefined);
      throw err;
    }
  }

  private target(backend: string, server: string): string {
    return `${checkToken('backend', backend)}/${checkToken('server', server)}`;
  }

  private async expect(command: string, success: RegExp, payload?: string): Promise<string> {
    const answer = await this.command(command, payload);
    if (!success.test(answer.trim())) throw new RuntimeApiError(command, answer);
    return answer;
  }
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port: ${port}`);
  return port;
}
