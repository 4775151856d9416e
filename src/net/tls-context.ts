/**
 * The server certificate for TLS listeners: `ssl.cert` (server certificate, then its chain) and `ssl.key`,
 * with Quay's SSL_PROTOCOLS / SSL_CIPHERS. Renewed files (watched on disk, or reload() on SIGHUP) are used
 * for new connections; open connections keep the context they started with. A broken pair is refused with
 * one log line and the previous pair goes on serving.
 */
import { createHash, createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { createSecureContext, type SecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { CertificateFileError, oneLine, readCertificates } from './pem-certificates.js';
import { resolveTlsPolicy, type ResolvedTlsPolicy, type TlsPolicy } from './tls-policy.js';

export { TlsPolicyError, type TlsPolicy } from './tls-policy.js';

export interface TlsFiles {
  /** PEM: the server certificate first, then the intermediates. */
  certFile: string;
  /** PEM private key (unencrypted) of the server certificate. */
  keyFile: string;
}

/** A certificate/key pair that passed every check, ready to serve. */
export interface TlsPair {
  secureContext: SecureContext;
  /** The same pair as options, for `tls.Server#setSecureContext()`. */
  contextOptions: SecureContextOptions;
  certificate: X509Certificate;
  /** SHA-256 of both files: a touched but unchanged pair is not reloaded. */
  contentDigest: string;
}

/** A pair refused; the message is one line naming the file. */
export class TlsPairError extends Error {
  override readonly name = 'TlsPairError';
}

export type TlsLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

interface PairFiles {
  cert: Buffer;
  key: Buffer;
  digest: string;
}

async function readPair(files: TlsFiles): Promise<PairFiles> {
  const read = async (path: string, role: string) => {
    try {
      return await readFile(path);
    } catch (error) {
      throw new TlsPairError(`${role} (${path}): cannot read it: ${oneLine(error)}`);
    }
  };
  const [cert, key] = await Promise.all([read(files.certFile, 'ssl.cert'), read(files.keyFile, 'ssl.key')]);
  const digest = createHash('sha256').update(cert).update('\0').update(key).digest('hex');
  return { cert, key, digest };
}

/** Checks a pair as read from disk and builds its secure context; throws TlsPairError. */
function buildPair(files: TlsFiles, contents: PairFiles, policy: ResolvedTlsPolicy, logger: TlsLogger): TlsPair {
  let chain: X509Certificate[];
  try {
    chain = readCertificates(contents.cert);
  } catch (error) {
    if (error instanceof CertificateFileError) throw new TlsPairError(`ssl.cert (${files.certFile}): ${error.message}`);
    throw error;
  }
  const leaf = chain[0]!;
  let key: KeyObject;
  try {
    key = createPrivateKey(contents.key);
  } catch (error) {
    throw new TlsPairError(`ssl.key (${files.keyFile}): not a usable private key (${oneLine(error)})`);
  }
  if (!leaf.checkPrivateKey(key)) {
    throw new TlsPairError(`ssl.key (${files.keyFile}) does not match the first certificate of ssl.cert (${files.certFile}), serial ${leaf.serialNumber}`);
  }
  const cert = chain.map((c) => c.toString()).join('');
  const keyPem = key.export({ type: 'pkcs8', format: 'pem' });
  const contextOptions: SecureContextOptions = { ...policy.contextOptions, cert, key: keyPem, honorCipherOrder: true };
  let secureContext: SecureContext;
  try {
    secureContext = createSecureContext(contextOptions);
  } catch (error) {
    throw new TlsPairError(`ssl.cert (${files.certFile}) and ssl.key (${files.keyFile}): OpenSSL refuses the pair (${oneLine(error)})`);
  }
  for (let i = 1; i < chain.length; i++) {
    if (!chain[i - 1]!.checkIssued(chain[i]!)) {
      logger.warn({ certFile: files.certFile }, `ssl.cert: certificate ${i + 1} did not issue certificate ${i}; put the server certificate first, then its chain in order`);
      break;
    }
  }
  if (Date.parse(leaf.validTo) < Date.now()) logger.warn({ certFile: files.certFile, validTo: leaf.validTo }, 'ssl.cert: the server certificate has expired');
  return { secureContext, contextOptions, certificate: leaf, contentDigest: contents.digest };
}

/** Loads and checks a pair once (no watching); throws TlsPairError or TlsPolicyError. */
export async function loadTlsPair(files: TlsFiles, policy: TlsPolicy, logger: TlsLogger): Promise<TlsPair> {
  const resolved = resolveTlsPolicy(policy);
  return buildPair(files, await readPair(files), resolved, logger);
}

export interface ReloadingTlsContextOptions {
  files: TlsFiles;
  policy?: TlsPolicy;
  logger: TlsLogger;
  /** Watch the files' directories and reload on change (default true). */
  watch?: boolean;
  /** Quiet period after the last change event before reloading (cert and key are rarely replaced at once). */
  debounceMs?: number;
}

export type ReloadOutcome = 'reloaded' | 'unchanged' | 'refused';

/** The current TLS pair of a listener, renewed in place. Build it with `ReloadingTlsContext.open()`. */
export class ReloadingTlsContext {
  private pair: TlsPair;
  private readonly listeners = new Set<(pair: TlsPair) => void>();
  private readonly watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<ReloadOutcome> | undefined;
  private pending: Promise<ReloadOutcome> | undefined;
  private lastRefusedDigest: string | undefined;

  private constructor(
    private readonly options: ReloadingTlsContextOptions,
    private readonly policy: ResolvedTlsPolicy,
    first: TlsPair,
  ) {
    this.pair = first;
  }

  /** Loads the pair (throws TlsPairError/TlsPolicyError: startup must stop) and starts watching it. */
  static async open(options: ReloadingTlsContextOptions): Promise<ReloadingTlsContext> {
    const policy = resolveTlsPolicy(options.policy);
    if (policy.legacyProtocols) options.logger.warn('SSL_PROTOCOLS enables TLS older than 1.2; OpenSSL 3 refuses those handshakes unless SSL_CIPHERS lowers the security level (@SECLEVEL=0)');
    const first = buildPair(options.files, await readPair(options.files), policy, options.logger);
    const context = new ReloadingTlsContext(options, policy, first);
    if (options.watch ?? true) context.startWatching();
    options.logger.info(describe(first), 'TLS certificate loaded');
    return context;
  }

  /** The context for a connection starting now. */
  get secureContext(): SecureContext {
    return this.pair.secureContext;
  }

  get current(): TlsPair {
    return this.pair;
  }

  get alpnProtocols(): string[] {
    return [...this.policy.alpnProtocols];
  }

  /** Re-reads the files now (SIGHUP). A broken pair is refused with one log line; the current one stays. */
  reload(): Promise<ReloadOutcome> {
    return this.queueReload(true);
  }

  /** Calls `listener` with each newly served pair; returns the function that removes it. */
  onChange(listener: (pair: TlsPair) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Keeps a tls.Server (https, http2 secure) on the current pair: now and after every reload. */
  attach(server: TlsServer): () => void {
    server.setSecureContext(this.pair.contextOptions);
    return this.onChange((pair) => server.setSecureContext(pair.contextOptions));
  }

  /** Stops watching; the current pair stays usable. */
  close(): void {
    clearTimeout(this.debounce);
    for (const watcher of this.watchers.splice(0)) watcher.close();
  }

  // One reload at a time; requests arriving during one share a single follow-up, which reads the newest files.
  private queueReload(explicit: boolean): Promise<ReloadOutcome> {
    if (!this.running) {
      this.running = this.reloadOnce(explicit).finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    this.pending ??= this.running.then(() => {
      this.pending = undefined;
      return this.queueReload(explicit);
    });
    return this.pending;
  }

  private async reloadOnce(explicit: boolean): Promise<ReloadOutcome> {
    const { files, logger } = this.options;
    let contents: PairFiles | undefined;
    try {
      contents = await readPair(files);
      if (contents.digest === this.pair.contentDigest) return 'unchanged';
      const pair = buildPair(files, contents, this.policy, logger);
      this.pair = pair;
      this.lastRefusedDigest = undefined;
      logger.info(describe(pair), 'TLS certificate reloaded; new connections use it');
      for (const listener of this.listeners) listener(pair);
      return 'reloaded';
    } catch (error) {
      const digest = contents?.digest ?? `unreadable:${error instanceof Error ? error.message : String(error)}`;
      // The watcher sees several events per renewal; say each broken state once, but answer every SIGHUP.
      if (explicit || digest !== this.lastRefusedDigest) {
        logger.error({ serial: this.pair.certificate.serialNumber }, `TLS certificate not reloaded, the previous one stays: ${error instanceof Error ? error.message : String(error)}`);
      }
      this.lastRefusedDigest = digest;
      return 'refused';
    }
  }

  private startWatching(): void {
    const { files, logger, debounceMs = 200 } = this.options;
    const names = new Set([basename(files.certFile), basename(files.keyFile)]);
    for (const directory of new Set([dirname(files.certFile), dirname(files.keyFile)])) {
      try {
        const watcher = watch(directory, { persistent: false }, (_event, name) => {
          // Kubernetes secrets swap a "..data" symlink, so any change in the directory may concern the pair.
          if (name === null || names.has(String(name)) || String(name).startsWith('..')) this.scheduleReload(debounceMs);
        });
        watcher.on('error', (error) => logger.warn({ directory }, `TLS certificate directory no longer watched (${oneLine(error)}); send SIGHUP to reload`));
        this.watchers.push(watcher);
      } catch (error) {
        logger.warn({ directory }, `cannot watch the TLS certificate directory (${oneLine(error)}); send SIGHUP to reload`);
      }
    }
  }

  private scheduleReload(debounceMs: number): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.queueReload(false), debounceMs);
    this.debounce.unref();
  }
}

function describe(pair: TlsPair): Record<string, string> {
  const c = pair.certificate;
  return { subject: c.subject.replace(/\n/g, ', '), serial: c.serialNumber, validTo: c.validTo, fingerprint256: c.fingerprint256 };
}
