import { Counter, Gauge, Histogram } from 'prom-client';
import type { MetricsRegistry } from './registry.js';

/** Seconds: from a cached manifest (~1 ms) to a slow blob stream or a stalled database (the 30 s bounds). */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** One finished request, as the request log sees it. */
export interface ObservedRequest {
  method: string;
  /** The route template (bounded cardinality), never the raw URL. */
  route: string;
  status: number;
  durationS: number;
  /** Blob bytes this request streamed into storage (pushes). */
  bytesIn: number;
  /** Blob bytes this process streamed out (pulls it served itself; a 307 to the storage sends none). */
  bytesOut: number;
  /** Of bytesOut, those sent with sendfile(2); undefined when the body did not take that path. */
  bytesSentDirectly?: number;
  /** The connection closed before the response was complete (a client that gave up mid-body). */
  cut: boolean;
}

/** The HTTP side of /metrics (docs/metrics.md): requests by route and status, latency, blob bytes, uploads. */
export class HttpMetrics {
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly cut: Counter<'method' | 'route'>;
  private readonly duration: Histogram<'method' | 'route'>;
  private readonly pushed: Counter;
  private readonly pulled: Counter;
  private readonly sendfileResponses: Counter;
  private readonly sendfileBytes: Counter;

  constructor(registry: MetricsRegistry, uploadsInProgress: () => number) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'quayside_http_requests_total',
      help: 'HTTP requests answered, by method, route template and status code.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.cut = new Counter({
      name: 'quayside_http_responses_cut_total',
      help: 'Responses whose connection closed before they were complete (also counted in quayside_http_requests_total).',
      labelNames: ['method', 'route'],
      registers,
    });
    this.duration = new Histogram({
      name: 'quayside_http_request_duration_seconds',
      help: 'Time from a request\'s arrival to the end of its response, by method and route template.',
      labelNames: ['method', 'route'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.pushed = new Counter({
      name: 'quayside_registry_blob_bytes_pushed_total',
      help: 'Blob bytes received in uploads (POST, PATCH and PUT bodies) that were stored.',
      registers,
    });
    this.pulled = new Counter({
      name: 'quayside_registry_blob_bytes_pulled_total',
      help: 'Blob bytes sent by this registry (a pull redirected to the storage sends none).',
      registers,
    });
    this.sendfileResponses = new Counter({
      name: 'quayside_registry_blob_sendfile_responses_total',
      help: 'Blob GET responses whose body was sent with sendfile(2) from a local file (plain HTTP/1.1).',
      registers,
    });
    this.sendfileBytes = new Counter({
      name: 'quayside_registry_blob_sendfile_bytes_total',
      help: 'Of the blob bytes pulled, those sent with sendfile(2) (page cache to socket, no user-space copy).',
      registers,
    });
    new Gauge({
      name: 'quayside_registry_uploads_in_progress',
      help: 'Upload bodies being streamed into storage right now.',
      registers,
      collect() {
        this.set(uploadsInProgress());
      },
    });
  }

  observe(request: ObservedRequest): void {
    const status = String(request.status);
    this.requests.inc({ method: request.method, route: request.route, status });
    if (request.cut) this.cut.inc({ method: request.method, route: request.route });
    this.duration.observe({ method: request.method, route: request.route }, request.durationS);
    if (request.bytesIn > 0 && request.status < 300) this.pushed.inc(request.bytesIn);
    if (request.bytesOut > 0) this.pulled.inc(request.bytesOut);
    if (request.bytesSentDirectly !== undefined) {
      this.sendfileResponses.inc();
      if (request.bytesSentDirectly > 0) this.sendfileBytes.inc(request.bytesSentDirectly);
    }
  }
}
