/** Certificates out of PEM (or DER) files, each checked by Node's X.509 parser, for TLS contexts and CA lists. */
import { X509Certificate } from 'node:crypto';

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Why a file could not be read as certificates; the message is one line naming nothing but the problem. */
export class CertificateFileError extends Error {
  override readonly name = 'CertificateFileError';
}

/**
 * The certificates in `contents`, in file order: every PEM CERTIFICATE block, or the whole file read as one
 * DER certificate when it has no PEM block (a ".crt" is often DER).
 */
export function readCertificates(contents: Buffer): X509Certificate[] {
  const text = contents.toString('latin1');
  const blocks = text.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) {
    if (text.includes('-----BEGIN')) throw new CertificateFileError('holds PEM blocks but no CERTIFICATE block');
    try {
      return [new X509Certificate(contents)];
    } catch {
      throw new CertificateFileError('holds no PEM certificate and is not a DER certificate');
    }
  }
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new CertificateFileError(`certificate ${index + 1} is not valid (${oneLine(error)})`);
    }
  });
}

/** The first line of an error's message, without OpenSSL's "error:0A000086:..." noise where possible. */
export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const first = message.split('\n')[0] ?? message;
  return first.replace(/^error:[0-9A-F]+:[^:]*:[^:]*:/, '').trim() || first;
}
