/**
 * The pure HAProxy 2.6 renderer: LoadBalancerModel + RenderPaths -> haproxy.cfg text. Same model, same bytes.
 *
 * Layout decisions:
 * - Two named defaults sections: `d_http` carries everything (timeouts, `option idle-close-on-response`,
 *   which lets a reloading old worker close idle keep-alive connections after their next response instead of
 *   failing them) and `d_tcp` inherits it minus the http-only options, so `haproxy -c` stays warning-free.
 *   Every proxy names its defaults with `from`, so section order never changes behaviour.
 * - One frontend `fe_http` binds the http ports and the https port; `ssl_fc` tells them apart. Each tcp
 *   service gets its own frontend on its external port.
 * - Backend churn without reload: every backend gets `spareSlots` extra servers `slot-N 0.0.0.0:0 disabled`.
 *   The controller fills one with `set server be_x/slot-N addr A port P` then `set server ... state ready`
 *   (and empties it with `state maint`). Chosen over `add server` because slots work with every balance
 *   algorithm (2.6 refuses dynamic servers in map-based `balance source` backends) and with cookies (the
 *   slot's cookie value is its name); with `RenderPaths.serverStateFile` the filled slots survive reloads.
 * - Routing rules come from routing.ts (host+path, host, path, default; longest path first).
 * - In a backend, the https redirect comes before basic auth (Kontena asked for credentials over plain http
 *   first), then the virtual path is stripped with `replace-path` (reqrep is gone since 2.1).
 */
import { join } from 'node:path';
import {
  backendName,
  HTTP_FRONTEND_NAME,
  serverName,
  spareSlotName,
  tcpFrontendName,
  userlistName,
  type BackendServer,
  type Certificate,
  type LoadBalancerModel,
  type LoadBalancerSettings,
  type RenderedFile,
  type RenderPaths,
  type ServiceModel,
} from './model.js';
import { computeRoutes, type Route } from './routing.js';

const PLAIN_ARG = /^[A-Za-z0-9_.:/@%+=,*~-]+$/;

/** Quote one HAProxy config argument: plain when safe, else single quotes (no escapes, no env expansion). */
export function quoteArg(value: string): string {
  if (PLAIN_ARG.test(value)) return value;
  if (!value.includes("'")) return `'${value}'`;
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/** Milliseconds in HAProxy's shortest exact unit (`30s`, `5m`, `1500ms`). */
export function formatDuration(ms: number): string {
  if (ms > 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms > 0 && ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

/** Path of a certificate bundle under `paths.certDir`; the index keeps the model's order (first = default). */
export function certificatePath(paths: RenderPaths, index: number, certificate: Pick<Certificate, 'name'>): string {
  return join(paths.certDir, `${String(index).padStart(2, '0')}-${certificate.name}.pem`);
}

/** The files the controller must write (mode 0600: they hold private keys) before HAProxy loads the config. */
export function certificateFiles(model: LoadBalancerModel, paths: RenderPaths): RenderedFile[] {
  return model.loadBalancer.certificates.map((certificate, index) => ({
    path: certificatePath(paths, index, certificate),
    contents: certificate.pem,
    mode: 0o600,
  }));
}

function bindAddress(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function section(header: string, lines: string[]): string {
  return [header, ...lines.map((line) => `    ${line}`)].join('\n');
}

function renderGlobal(lb: LoadBalancerSettings, paths: RenderPaths): string {
  const lines = [
    `stats socket ${quoteArg(paths.adminSocket)} mode 600 level admin expose-fd listeners`,
    'stats timeout 2m',
    ...(paths.pidFile === undefined ? [] : [`pidfile ${quoteArg(paths.pidFile)}`]),
    `maxconn ${lb.maxconn}`,
    `hard-stop-after ${formatDuration(lb.hardStopAfterMs)}`,
    ...(lb.log === null ? [] : [`log ${lb.log}`]),
    ...(paths.serverStateFile === undefined ? [] : [`server-state-file ${quoteArg(paths.serverStateFile)}`]),
    `ssl-default-bind-ciphers ${lb.sslCiphers}`,
    `ssl-default-bind-ciphersuites ${lb.sslCiphersuites}`,
    `ssl-default-bind-options ssl-min-ver ${lb.sslMinVersion} no-tls-tickets`,
    ...lb.globalLines,
  ];
  return section('global', lines);
}

function renderDefaults(lb: LoadBalancerSettings, paths: RenderPaths): string {
  const t = lb.timeouts;
  const http = section('defaults d_http', [
    'mode http',
    ...(lb.log === null ? [] : ['log global', 'option dontlognull']),
    'option idle-close-on-response',
    'option redispatch',
    'retries 3',
    `timeout connect ${formatDuration(t.connect)}`,
    `timeout client ${formatDuration(t.client)}`,
    `timeout server ${formatDuration(t.server)}`,
    `timeout http-request ${formatDuration(t.httpRequest)}`,
    `timeout http-keep-alive ${formatDuration(t.httpKeepAlive)}`,
    `timeout queue ${formatDuration(t.queue)}`,
    `timeout tunnel ${formatDuration(t.tunnel)}`,
    `timeout check ${formatDuration(t.check)}`,
    `timeout client-fin ${formatDuration(t.clientFin)}`,
    `timeout server-fin ${formatDuration(t.serverFin)}`,
    // A backend host name that does not resolve must not stop HAProxy from starting or reloading.
    'default-server init-addr last,libc,none',
    ...(paths.serverStateFile === undefined ? [] : ['load-server-state-from-file global']),
    ...lb.defaultsLines,
  ]);
  const tcp = section('defaults d_tcp from d_http', ['mode tcp', 'no option idle-close-on-response']);
  return `${http}\n\n${tcp}`;
}

function renderStats(lb: LoadBalancerSettings): string | null {
  if (lb.stats === null) return null;
  const s = lb.stats;
  return section('listen stats from d_http', [
    `bind ${bindAddress(s.bindAddress, s.port)}`,
    'stats enable',
    `stats uri ${quoteArg(s.uri)}`,
    'stats refresh 10s',
    `stats realm ${quoteArg(lb.name)}`,
    `stats auth ${quoteArg(`${s.user}:${s.password}`)}`,
  ]);
}

function hostAcls(service: string, route: Route, acls: Map<string, string[]>): string | null {
  if (route.wildcard !== null) {
    const name = `host_${service}_w${route.wildcard}`;
    acls.set(name, [`req.hdr(host),field(1,:),lower -m end ${route.wildcard}`]);
    return name;
  }
  if (route.exactHosts.length === 0) return null;
  const name = `host_${service}`;
  acls.set(name, [`req.hdr(host),field(1,:),lower -m str ${route.exactHosts.join(' ')}`]);
  return name;
}

function pathAcl(service: ServiceModel, path: string | null, acls: Map<string, string[]>): string | null {
  if (path === null || path === '/') return null;
  // Named by index: sanitising the path itself could make /a/b and /a_b collide.
  const name = `path_${service.name}_${service.virtualPaths.indexOf(path)}`;
  acls.set(name, [`path -m str ${quoteArg(path)}`, `path -m beg ${quoteArg(`${path}/`)}`]);
  return name;
}

function renderHttpFrontend(model: LoadBalancerModel, paths: RenderPaths): string | null {
  const lb = model.loadBalancer;
  if (lb.httpPorts.length === 0 && lb.httpsPort === null) return null;
  const proxy = lb.acceptProxy ? ' accept-proxy' : '';
  const lines = lb.httpPorts.map((port) => `bind ${bindAddress(lb.bindAddress, port)}${proxy}`);
  if (lb.httpsPort !== null) {
    const crts = lb.certificates.map((c, i) => `crt ${quoteArg(certificatePath(paths, i, c))}`).join(' ');
    lines.push(`bind ${bindAddress(lb.bindAddress, lb.httpsPort)}${proxy} ssl ${crts}${lb.strictSni ? ' strict-sni' : ''} alpn h2,http/1.1`);
  }
  if (lb.httpIgnoreProbes) lines.push('option http-ignore-probes');
  if (lb.log !== null) lines.push('option httplog');
  if (lb.healthUri !== null) lines.push(`monitor-uri ${quoteArg(lb.healthUri)}`);
  lines.push(
    // One rule instead of two conditional ones: every request pays for each rule evaluated.
    'http-request set-header X-Forwarded-Proto %[ssl_fc,iif(https,http)]',
    'http-request set-header X-Forwarded-Port %[dst_port]',
  );
  const acls = new Map<string, string[]>();
  const rules: string[] = [];
  let defaultService: string | null = null;
  const byName = new Map(model.services.map((s) => [s.name, s]));
  for (const route of computeRoutes(model.services)) {
    const service = byName.get(route.service);
    if (service === undefined) continue;
    if (route.tier === 'default') {
      defaultService = route.service;
      continue;
    }
    const conditions = [hostAcls(route.service, route, acls), pathAcl(service, route.path, acls)].filter((c) => c !== null);
    const backend = backendName({ name: route.service });
    rules.push(conditions.length === 0 ? `use_backend ${backend}` : `use_backend ${backend} if ${conditions.join(' ')}`);
  }
  for (const [name, criteria] of acls) for (const criterion of criteria) lines.push(`acl ${name} ${criterion}`);
  lines.push(...rules);
  if (defaultService !== null) lines.push(`default_backend ${backendName({ name: defaultService })}`);
  return section(`frontend ${HTTP_FRONTEND_NAME} from d_http`, lines);
}

function renderTcpFrontend(lb: LoadBalancerSettings, service: ServiceModel): string {
  const proxy = lb.acceptProxy ? ' accept-proxy' : '';
  return section(`frontend ${tcpFrontendName(service)} from d_tcp`, [
    `bind ${bindAddress(lb.bindAddress, service.externalPort ?? 0)}${proxy}`,
    ...(lb.log === null ? [] : ['option tcplog']),
    `default_backend ${backendName(service)}`,
  ]);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, (c) => `\\${c}`);
}

function serverOptions(service: ServiceModel, cookieValue: string): string {
  const options: string[] = [];
  const check = service.healthCheck;
  if (check !== null) options.push(`check inter ${formatDuration(check.intervalMs)} rise ${check.rise} fall ${check.fall}`);
  if (service.sendProxy === 'v1') options.push('send-proxy');
  if (service.sendProxy === 'v2') options.push('send-proxy-v2');
  // A PROXY backend refuses a connection without the header, health checks included (HAProxy sends it on
  // checks by default only while no check port or address is set; say it so that stays true).
  if (check !== null && service.sendProxy !== null) options.push('check-send-proxy');
  if (service.cookie !== null) options.push(`cookie ${cookieValue}`);
  return options.length === 0 ? '' : ` ${options.join(' ')}`;
}

function serverLine(service: ServiceModel, backend: BackendServer): string {
  const name = serverName(service, backend);
  return `server ${name} ${bindAddress(backend.address, backend.port)}${serverOptions(service, name)}`;
}

function renderBackend(lb: LoadBalancerSettings, service: ServiceModel): string {
  const http = service.mode === 'http';
  const lines = [`balance ${service.balance}`];
  if (http) lines.push('option forwardfor');
  if (service.cookie !== null) lines.push(`cookie ${service.cookie}`);
  const check = service.healthCheck;
  if (check !== null && http) {
    // HTTP/1.1 needs a Host header: use the service's first exact virtual host, else send an HTTP/1.0 check.
    const host = service.virtualHosts.find((h) => !h.startsWith('*.'));
    const version = host === undefined ? '' : ` ver HTTP/1.1 hdr Host ${host}`;
    lines.push('option httpchk', `http-check send meth GET uri ${quoteArg(check.path ?? '/')}${version}`);
    if (check.expectStatus !== null) lines.push(`http-check expect status ${check.expectStatus}`);
  }
  if (service.redirectHttps && lb.httpsPort !== null) {
    lines.push(
      lb.httpsPort === 443
        ? 'http-request redirect scheme https code 301 unless { ssl_fc }'
        : `http-request redirect location https://%[req.hdr(host),field(1,:)]:${lb.httpsPort}%[pathq] code 301 unless { ssl_fc }`,
    );
  }
  if (service.basicAuth.length > 0) {
    lines.push(`http-request auth realm ${quoteArg(service.name)} unless { http_auth(${userlistName(service)}) }`);
  }
  const stripped = service.virtualPaths.filter((p) => p !== '/').sort((a, b) => b.length - a.length || a.localeCompare(b));
  if (http && !service.keepVirtualPath && stripped.length > 0) {
    // One regex for all prefixes, longest first, so that a stripped path is never stripped twice.
    const regex = `^(?:${stripped.map(escapeRegex).join('|')})(?:/(.*))?$`;
    lines.push(`http-request replace-path ${quoteArg(regex)} ${quoteArg('/\\1')}`);
  }
  if (service.hsts !== null) {
    const value = [
      `max-age=${service.hsts.maxAgeSeconds}`,
      ...(service.hsts.includeSubDomains ? ['includeSubDomains'] : []),
      ...(service.hsts.preload ? ['preload'] : []),
    ].join('; ');
    lines.push(`http-response set-header Strict-Transport-Security ${quoteArg(value)} if { ssl_fc }`);
  }
  lines.push(...service.customSettings);
  lines.push(...service.backends.map((backend) => serverLine(service, backend)));
  for (let index = 0; index < service.spareSlots; index += 1) {
    const name = spareSlotName(service, index);
    lines.push(`server ${name} 0.0.0.0:0 disabled${serverOptions(service, name)}`);
  }
  return section(`backend ${backendName(service)} from ${http ? 'd_http' : 'd_tcp'}`, lines);
}

function renderUserlist(service: ServiceModel): string {
  return section(
    `userlist ${userlistName(service)}`,
    service.basicAuth.map((user) => `user ${user.name} ${user.kind} ${quoteArg(user.secret)}`),
  );
}

/** Render the complete haproxy.cfg for `model`; deterministic and free of I/O. */
export function render(model: LoadBalancerModel, paths: RenderPaths): string {
  const lb = model.loadBalancer;
  const services = [...model.services].sort((a, b) => a.name.localeCompare(b.name));
  const sections: Array<string | null> = [
    `# haproxy.cfg for load balancer ${lb.name}, rendered by quayside lb from its model: edits here are overwritten.`,
    renderGlobal(lb, paths),
    renderDefaults(lb, paths),
    renderStats(lb),
    renderHttpFrontend({ loadBalancer: lb, services }, paths),
    ...services.filter((s) => s.mode === 'tcp').map((s) => renderTcpFrontend(lb, s)),
    ...services.map((s) => renderBackend(lb, s)),
    ...services.filter((s) => s.basicAuth.length > 0).map(renderUserlist),
  ];
  return `${sections.filter((s) => s !== null).join('\n\n')}\n`;
}
