/**
 * The composition root of `quayside lb run`: opens the sources (a YAML file, etcd, or both), builds the first
 * model, starts the controller (and with it HAProxy) and the status server, then feeds every source change
 * to the controller. Used by the CLI and by the integration tests, which each run their own.
 */
import { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import type { SourceDocument } from './document.js';
import type { LoadBalancerModel } from './model.js';
import { LbController } from './controller.js';
import { startStatusServer, type StatusServer } from './status-server.js';
import { loadYamlFile, watchYamlFile, type FileWatch } from './sources/yaml-file.js';
import { ETCD_DEFAULT_PREFIX, loadEtcd, watchEtcd, type EtcdWatch } from './sources/etcd.js';
import { watchFileSet } from './sources/file-set-watch.js';
import { mergeDocuments } from './sources/merge.js';
import { LbConfigError } from './errors.js';
import { buildModel } from './validate.js';

export interface RunOptions {
  /** YAML file (Quayside format or kontena.yml). At least one of configPath and etcdEndpoints is needed. */
  configPath?: string;
  etcdEndpoints?: string[];
  etcdPrefix?: string;
  stateDir: string;
  logger: Logger;
  debounceMs?: number;
  /** Port of GET /status and /metrics; null: no status server; 0: any free port. */
  statusPort?: number | null;
  statusHost?: string;
  haproxyBin?: string;
}

/** A running load balancer. */
export interface RunningLb {
  readonly controller: LbController;
  readonly statusPort: number | null;
  /** Stops watching sources, the status server and HAProxy. */
  stop(): Promise<void>;
}

/**
 * Reads every configured source once and merges them into a model, with the certificate files it was read
 * from; throws LbConfigError or I/O errors.
 */
async function readModel(options: RunOptions, etcd: Etcd3 | null): Promise<{ model: LoadBalancerModel; files: readonly string[] }> {
  const documents: SourceDocument[] = [];
  if (options.configPath !== undefined) documents.push(await loadYamlFile(options.configPath));
  if (etcd) documents.push(await loadEtcd(etcd, options.etcdPrefix ?? ETCD_DEFAULT_PREFIX));
  const merged = mergeDocuments(documents);
  const files = merged.files ?? [];
  try {
    return { model: buildModel(merged), files };
  } catch (error) {
    throw error instanceof LbConfigError ? new LbConfigError(error.issues, files) : error;
  }
}

/** Starts a load balancer; rejects with a readable error when the first model or HAProxy cannot start. */
export async function startLoadBalancer(options: RunOptions): Promise<RunningLb> {
  if (options.configPath === undefined && (options.etcdEndpoints?.length ?? 0) === 0) {
    throw new Error('give --config FILE, --etcd URL, or both');
  }
  const logger = options.logger;
  const etcd = options.etcdEndpoints?.length ? new Etcd3({ hosts: options.etcdEndpoints, dialTimeout: 3000 }) : null;
  const controller = new LbController({
    stateDir: options.stateDir,
    logger,
    debounceMs: options.debounceMs,
    haproxyBin: options.haproxyBin,
  });
  let fileWatch: FileWatch | null = null;
  // Certificate files named by the sources: a renewed file is a source change like an edited YAML file.
  const certificateWatch = watchFileSet((path) => refresh(path));
  let certificateFiles: readonly string[] = [];
  const watchCertificates = async (files: readonly string[]) => {
    certificateFiles = files;
    await certificateWatch.set(files);
  };
  let etcdWatch: EtcdWatch | null = null;
  let status: StatusServer | null = null;
  let stopped = false;

  // Any source event re-reads all sources: a model is valid only as a whole (etcd services may rely on the
  // balancer settings of the file), and re-reading also orders overlapping events.
  let chain = Promise.resolve();
  const refresh = (origin: string): void => {
    chain = chain.then(async () => {
      if (stopped) return;
      try {
        const { model, files } = await readModel(options, etcd);
        await watchCertificates(files);
        controller.submit(model);
      } catch (err) {
        // A file the rejected sources name (missing, half written) is watched too: putting it right applies.
        if (err instanceof LbConfigError) await certificateWatch.set([...new Set([...certificateFiles, ...err.files])]);
        controller.reportSourceError(origin, err);
      }
    });
  };

  try {
    const initial = await readModel(options, etcd);
    await watchCertificates(initial.files);
    await controller.start(initial.model);
    if (options.configPath !== undefined) {
      let first = true;
      fileWatch = watchYamlFile(options.configPath, () => {
        // The watch reports the state it starts from: that is the model just started.
        if (first) first = false;
        else refresh(options.configPath ?? 'file');
      });
    }
    if (etcd) {
      let first = true;
      const prefix = options.etcdPrefix ?? ETCD_DEFAULT_PREFIX;
      etcdWatch = await watchEtcd(etcd, prefix, (update) => {
        if (first) {
          first = false;
          return;
        }
        if (!update.ok && /etcd (watch|re-sync)/.test(update.error.message)) {
          controller.reportSourceError(`etcd:${prefix}`, update.error);
          return;
        }
        refresh(`etcd:${prefix}`);
      });
    }
    if (options.statusPort !== null && options.statusPort !== undefined) {
      status = await startStatusServer(controller, options.statusPort, options.statusHost);
    }
  } catch (err) {
    certificateWatch.close();
    fileWatch?.close();
    await etcdWatch?.close();
    etcd?.close();
    await controller.stop();
    throw err;
  }

  return {
    controller,
    statusPort: status?.port ?? null,
    async stop() {
      stopped = true;
      certificateWatch.close();
      fileWatch?.close();
      await etcdWatch?.close().catch(() => undefined);
      etcd?.close();
      await status?.close();
      await chain;
      await controller.stop();
    },
  };
}
