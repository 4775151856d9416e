// The TLS benchmark's request client: node:http or node:https (with the PROXY v2 header below TLS when the
// endpoint asks for it) through a keep-alive Agent, bodies streamed, so a 1 GiB blob never sits in memory.
// The same code drives every endpoint, plain or TLS, so what differs between two figures is the transport.
import { createHash } from 'node:crypto';
import { request as httpRequest, type Agent, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { GeneratedBlob } from './registry-client.js';
import { agentFor, baseUrl, type Endpoint } from './tls-connect.js';

const REQUEST_TIMEOUT_MS = 300_000;

export interface TlsBenchResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  bytes: number;
  /** Negotiated protocol and cipher of the connection, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384" ("" over plain TCP). */
  cipher: string;
}

export class EndpointClient {
  readonly endpoint: Endpoint;
  /** Sent with every request (the registry token for quayside). */
  defaultHeaders: Record<string, string> = {};
  private readonly agent: Agent;

  constructor(endpoint: Endpoint) {
    this.endpoint = endpoint;
    this.agent = agentFor(endpoint);
  }

  close(): void {
    this.agent.destroy();
  }

  /** One request; `discard` counts the response body instead of keeping it; `hash` feeds it to a sha256. */
  send(
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: Buffer | Iterable<Buffer>; discard?: boolean; hash?: ReturnType<typeof createHash> } = {},
  ): Promise<TlsBenchResponse> {
    const url = new URL(path, baseUrl(this.endpoint));
    const send = this.endpoint.transport === 'http' ? httpRequest : httpsRequest;
    return new Promise((resolveResponse, reject) => {
      const req = send(url, { method, headers: { ...this.defaultHeaders, ...options.headers }, agent: this.agent, ca: this.endpoint.ca }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        const tls = res.socket as TLSSocket;
        const cipher = typeof tls.getCipher === 'function' ? `${tls.getProtocol() ?? ''} ${tls.getCipher().standardName}` : '';
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          options.hash?.update(chunk);
          if (!options.discard) chunks.push(chunk);
        });
        res.on('end', () => resolveResponse({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), bytes, cipher }));
        res.on('error', reject);
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${url.pathname} timed out after ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      const body = options.body;
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        writeAll(req, body).then(
          () => req.end(),
          (error: unknown) => req.destroy(error instanceof Error ? error : new Error(String(error))),
        );
      }
    });
  }

  async expect(expected: number, method: string, path: string, options: Parameters<EndpointClient['send']>[2] = {}): Promise<TlsBenchResponse> {
    const res = await this.send(method, path, options);
    if (res.status !== expected) {
      throw new Error(`${this.endpoint.label}: ${method} ${new URL(path, baseUrl(this.endpoint)).pathname} answered ${res.status}, expected ${expected}: ${res.body.toString().slice(0, 300)}`);
    }
    return res;
  }

  /** POST then one PUT ?digest= with the whole body (a monolithic push). */
  async pushBlob(repository: string, blob: GeneratedBlob): Promise<void> {
    const started = await this.expect(202, 'POST', `/v2/${repository}/blobs/uploads/`, { headers: { 'content-length': '0' } });
    const location = started.headers.location;
    if (typeof location !== 'string' || location === '') throw new Error(`${this.endpoint.label}: upload start without a Location`);
    // The Location may name the server's own idea of its address; only its path and query matter here.
    const upload = new URL(location, baseUrl(this.endpoint));
    upload.searchParams.set('digest', blob.digest());
    await this.expect(201, 'PUT', `${upload.pathname}${upload.search}`, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      body: blob.chunks(),
    });
  }

  async putManifest(repository: string, reference: string, mediaType: string, bytes: Buffer): Promise<void> {
    await this.expect(201, 'PUT', `/v2/${repository}/manifests/${reference}`, { headers: { 'content-type': mediaType, 'content-length': String(bytes.length) }, body: bytes });
  }

  /** GET of a blob, body counted (and hashed when asked) and discarded; returns the byte count and the cipher. */
  async pull(repository: string, digest: string, hash?: ReturnType<typeof createHash>): Promise<{ bytes: number; cipher: string }> {
    const res = await this.expect(200, 'GET', `/v2/${repository}/blobs/${digest}`, { discard: true, hash });
    return { bytes: res.bytes, cipher: res.cipher };
  }
}

async function writeAll(req: ReturnType<typeof httpRequest>, body: Iterable<Buffer>): Promise<void> {
  for (const chunk of body) {
    if (req.destroyed) throw new Error('request destroyed while writing its body');
    if (!req.write(chunk)) {
      await new Promise<void>((drained, reject) => {
        const onDrain = () => {
          req.off('close', onClose);
          drained();
        };
        const onClose = () => {
          req.off('drain', onDrain);
          reject(new Error('request closed while writing its body'));
        };
        req.once('drain', onDrain);
        req.once('close', onClose);
      });
    }
  }
}
