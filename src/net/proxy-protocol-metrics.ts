import { Counter, type Registry } from 'prom-client';

export type ProxyRejection = 'timeout' | 'malformed' | 'closed';

/** Counters of the PROXY protocol listener, registered in the caller's registry (never the global one). */
export class ProxyProtocolMetrics {
  readonly headers: Counter<'version' | 'command'>;
  readonly rejected: Counter<'reason'>;
  readonly tlsHandshakeFailures: Counter<'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.headers = new Counter({
      name: 'quayside_proxy_protocol_headers_total',
      help: 'Connections on the PROXY protocol port whose header was read, by version and command (local = the balancer\'s own health check).',
      labelNames: ['version', 'command'],
      registers,
    });
    this.rejected = new Counter({
      name: 'quayside_proxy_protocol_rejected_total',
      help: 'Connections on the PROXY protocol port closed before a valid header: timeout, malformed, or closed by the peer.',
      labelNames: ['reason'],
      registers,
    });
    this.tlsHandshakeFailures = new Counter({
      name: 'quayside_proxy_protocol_tls_handshake_failures_total',
      help: 'TLS handshakes after a PROXY header that failed or timed out.',
      labelNames: ['reason'],
      registers,
    });
  }
}
