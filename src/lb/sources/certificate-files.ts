/**
 * Certificates kept in files, as certbot and config-management tools keep them: `pem: /etc/ssl/site.pem` (any
 * value without a `-----BEGIN` line is a path) or `{ name, file }`. The file is read here, so that the
 * schema and validation see the PEM text as if it were inline, and its path is returned so that the caller
 * watches it: a renewed file then applies like an edited inline PEM (through the runtime API, no reload).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { LbIssue } from '../errors.js';

/** Where relative paths start: the directory of the YAML file, or null where only absolute paths make sense (etcd). */
export type CertificateBaseDir = string | null;

function looksLikePemText(value: string): boolean {
  return value.includes('-----BEGIN');
}

/**
 * Replace every certificate given by path in `loadBalancer` (the raw `load_balancer` mapping, changed in place)
 * by its contents. Problems go to `issues` at the certificate's key (`pathPrefix` + `.certificates.N.pem|file`).
 * Returns the absolute paths named, read or not: a file that is missing now is watched for when it appears.
 */
export function readCertificateFiles(
  loadBalancer: unknown,
  origin: string,
  pathPrefix: string,
  baseDir: CertificateBaseDir,
  issues: LbIssue[],
): string[] {
  if (typeof loadBalancer !== 'object' || loadBalancer === null) return [];
  const certificates = (loadBalancer as Record<string, unknown>).certificates;
  if (!Array.isArray(certificates)) return [];
  const named: string[] = [];
  certificates.forEach((cert: unknown, index) => {
    if (typeof cert !== 'object' || cert === null) return;
    const { file, pem, ...rest } = cert as Record<string, unknown>;
    const keyPath = `${pathPrefix}.certificates.${index}`;
    let given: string;
    let key: string;
    if (file !== undefined) {
      key = `${keyPath}.file`;
      if (pem !== undefined) {
        issues.push({ origin, path: key, message: 'give either pem or file, not both' });
        return;
      }
      if (typeof file !== 'string' || file === '') {
        issues.push({ origin, path: key, message: 'must be a file path' });
        return;
      }
      given = file;
    } else if (typeof pem === 'string' && !looksLikePemText(pem)) {
      key = `${keyPath}.pem`;
      given = pem.trim();
      if (given === '') return; // Left to validation: "contains no certificate".
    } else {
      return;
    }
    if (!isAbsolute(given) && baseDir === null) {
      issues.push({ origin, path: key, message: `must be the PEM text or an absolute file path (got "${given}")` });
      return;
    }
    const full = isAbsolute(given) ? given : resolve(baseDir ?? '/', given);
    named.push(full);
    try {
      certificates[index] = { ...rest, pem: readFileSync(full, 'utf8') };
    } catch (error) {
      issues.push({ origin, path: key, message: `cannot read certificate file ${full}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` });
    }
  });
  return named;
}
