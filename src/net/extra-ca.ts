/**
 * Quay's `extra_ca_certs/`: CA certificates (*.crt, *.pem, each holding one or more) that outgoing TLS
 * (object storage, LDAP, webhooks) must trust on top of the usual roots.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { CertificateFileError, oneLine, readCertificates } from './pem-certificates.js';

/** A file or directory that cannot be used; the message is one line naming it. */
export class ExtraCaError extends Error {
  override readonly name = 'ExtraCaError';
}

export interface ExtraCaCertificates {
  /** PEM text of every certificate, in file-name order then file order. */
  certificates: string[];
  /** The files read, relative to the directory. */
  files: string[];
}

const CA_FILE = /\.(crt|pem)$/i;

/**
 * Reads every *.crt / *.pem of `directory`. A missing directory means no extra CAs; an unreadable or
 * invalid file is an ExtraCaError such as "extra_ca_certs/corp.crt: certificate 2 is not valid (...)".
 */
export async function loadExtraCaCertificates(directory: string, label = 'extra_ca_certs'): Promise<ExtraCaCertificates> {
  let names: string[];
  try {
    names = (await readdir(directory, { withFileTypes: true })).filter((e) => CA_FILE.test(e.name) && !e.isDirectory()).map((e) => e.name).sort();
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return { certificates: [], files: [] };
    throw new ExtraCaError(`${label} (${directory}): cannot list it: ${oneLine(error)}`);
  }
  const certificates: string[] = [];
  for (const name of names) {
    const shown = `${label}/${name}`;
    let contents: Buffer;
    try {
      contents = await readFile(join(directory, name));
    } catch (error) {
      throw new ExtraCaError(`${shown}: cannot read it: ${oneLine(error)}`);
    }
    try {
      for (const certificate of readCertificates(contents)) certificates.push(certificate.toString());
    } catch (error) {
      if (error instanceof CertificateFileError) throw new ExtraCaError(`${shown}: ${error.message}`);
      throw error;
    }
  }
  return { certificates, files: names };
}

/**
 * The CA list for outgoing TLS: Node's default roots (with NODE_EXTRA_CA_CERTS, and the system store where
 * this Node can read it) plus `extra`. Pass it as the `ca` option: `ca` replaces the defaults, never adds.
 */
export function caListWith(extra: readonly string[]): string[] {
  const getCACertificates = (tls as unknown as { getCACertificates?: (type?: string) => string[] }).getCACertificates;
  const roots = typeof getCACertificates === 'function' ? getCACertificates('default') : [...tls.rootCertificates];
  return [...roots, ...extra];
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
