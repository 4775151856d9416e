import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { ExtraCaError, loadExtraCaCertificates, type ExtraCaCertificates } from '../net/extra-ca.js';
import { oneLine } from '../net/pem-certificates.js';
import { loadTlsPair, TlsPairError, TlsPolicyError, type TlsFiles, type TlsPolicy } from '../net/tls-context.js';
import { CliError } from './cli-error.js';

/**
 * Where the configuration comes from: one config.yaml (--config, QUAYSIDE_CONFIG), or a Quay config
 * directory as Quay's `conf/stack` holds it (--config-dir, QUAYSIDE_CONFIG_DIR): config.yaml, ssl.cert +
 * ssl.key, extra_ca_certs/.
 */
export interface ConfigLocation {
  file?: string;
  dir?: string;
}

/** The flags, else the environment; both forms at once are refused (which one would win is a guess). */
export function chooseConfigLocation(location: ConfigLocation | string | undefined, env: NodeJS.ProcessEnv = process.env): ConfigLocation {
  const given = typeof location === 'string' ? { file: location } : (location ?? {});
  if (given.file !== undefined && given.dir !== undefined) throw new CliError('give --config FILE or --config-dir DIR, not both', 2);
  if (given.file !== undefined || given.dir !== undefined) return given;
  const file = env.QUAYSIDE_CONFIG || undefined;
  const dir = env.QUAYSIDE_CONFIG_DIR || undefined;
  if (file !== undefined && dir !== undefined) throw new CliError('QUAYSIDE_CONFIG and QUAYSIDE_CONFIG_DIR are both set; set one', 2);
  return { file, dir };
}

/** What a config directory holds besides config.yaml, checked. */
export interface EdgeFiles {
  /** ssl.cert and ssl.key, when the directory has them (both, or neither). */
  tls?: { files: TlsFiles; policy: TlsPolicy };
  /** extra_ca_certs/: none when there is no such directory. */
  extraCa: ExtraCaCertificates;
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new CliError(`${file}: cannot read it: ${oneLine(error)}`);
  }
}

/** The config.yaml of a directory; one line when the directory or the file is missing. */
export async function configFileOf(dir: string): Promise<string> {
  let info;
  try {
    info = await stat(dir);
  } catch (error) {
    throw new CliError(`config directory ${dir}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : oneLine(error)}`);
  }
  if (!info.isDirectory()) throw new CliError(`config directory ${dir}: not a directory`);
  const file = path.join(dir, 'config.yaml');
  if (!(await isFile(file))) throw new CliError(`config directory ${dir}: no config.yaml in it`);
  return file;
}

/** The TLS policy of config.yaml (SSL_PROTOCOLS, SSL_CIPHERS); ALPN offers the policy's default, h2 then http/1.1. */
export function tlsPolicyFrom(config: Config): TlsPolicy {
  return { protocols: config.SSL_PROTOCOLS, ciphers: config.SSL_CIPHERS };
}

/**
 * Reads and checks ssl.cert/ssl.key and extra_ca_certs/ of a config directory, so that `serve` refuses a
 * broken pair or CA file before it binds a port or touches the database. Without a directory: nothing.
 */
export async function checkEdgeFiles(dir: string | undefined, config: Config): Promise<EdgeFiles> {
  if (dir === undefined) return { extraCa: { certificates: [], files: [] } };
  const certFile = path.join(dir, 'ssl.cert');
  const keyFile = path.join(dir, 'ssl.key');
  const [hasCert, hasKey] = await Promise.all([isFile(certFile), isFile(keyFile)]);
  let tls: EdgeFiles['tls'];
  if (hasCert !== hasKey) {
    throw new CliError(`config directory ${dir}: ${hasCert ? 'ssl.cert without ssl.key' : 'ssl.key without ssl.cert'}; give both or neither`);
  }
  if (hasCert) {
    const files = { certFile, keyFile };
    const policy = tlsPolicyFrom(config);
    const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
    try {
      await loadTlsPair(files, policy, silent);
    } catch (error) {
      if (error instanceof TlsPairError || error instanceof TlsPolicyError) throw new CliError(error.message);
      throw error;
    }
    tls = { files, policy };
  }
  let extraCa: ExtraCaCertificates;
  try {
    extraCa = await loadExtraCaCertificates(path.join(dir, 'extra_ca_certs'));
  } catch (error) {
    if (error instanceof ExtraCaError) throw new CliError(error.message);
    throw error;
  }
  return { tls, extraCa };
}
