/**
 * PEM bundles as HAProxy loads them: certificate(s) then the private key, in one file. Checked with Node's
 * own X.509 parser so that a bundle HAProxy would refuse at reload time is refused here, with its name.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';

interface PemBlock {
  label: string;
  text: string;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

function blocks(pem: string): PemBlock[] {
  return [...pem.matchAll(BLOCK)].map((match) => ({ label: match[1] ?? '', text: match[0] }));
}

function isKey(label: string): boolean {
  return /PRIVATE KEY$/.test(label);
}

/**
 * Split concatenated bundles (Kontena's SSL_CERTS holds several): a bundle ends with its private key, so a
 * certificate after a key starts the next bundle. A trailing bundle without a key stays a bundle of its own,
 * so that validation reports it instead of silently merging it.
 */
export function splitPemBundles(text: string): string[] {
  const bundles: PemBlock[][] = [];
  let current: PemBlock[] = [];
  for (const block of blocks(text)) {
    if (block.label === 'CERTIFICATE' && current.some((b) => isKey(b.label))) {
      bundles.push(current);
      current = [];
    }
    current.push(block);
  }
  if (current.length > 0) bundles.push(current);
  return bundles.map((bundle) => `${bundle.map((b) => b.text).join('\n')}\n`);
}

/** Result of checking one bundle: the hostnames its leaf certificate covers, or what is wrong with it. */
export type PemCheck = { ok: true; hostnames: string[] } | { ok: false; message: string };

/** Check that `pem` holds a certificate and the unencrypted private key matching it. */
export function checkPemBundle(pem: string): PemCheck {
  const found = blocks(pem);
  const certs = found.filter((b) => b.label === 'CERTIFICATE');
  const keys = found.filter((b) => isKey(b.label));
  if (certs.length === 0) return { ok: false, message: 'contains no certificate' };
  if (keys.length === 0) return { ok: false, message: 'contains no private key (a PEM bundle needs the certificate and its key)' };
  if (keys.length > 1) return { ok: false, message: 'contains several private keys' };
  const [leafBlock] = certs;
  const [keyBlock] = keys;
  if (leafBlock === undefined || keyBlock === undefined) return { ok: false, message: 'is empty' };
  if (keyBlock.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(keyBlock.text)) {
    return { ok: false, message: 'has an encrypted private key (HAProxy cannot prompt for a passphrase)' };
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(leafBlock.text);
  } catch (error) {
    return { ok: false, message: `has an unreadable certificate (${(error as Error).message})` };
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(keyBlock.text))) {
      return { ok: false, message: 'has a private key that does not match its certificate' };
    }
  } catch (error) {
    return { ok: false, message: `has an unreadable private key (${(error as Error).message})` };
  }
  return { ok: true, hostnames: hostnamesOf(leaf) };
}

function hostnamesOf(cert: X509Certificate): string[] {
  const names = new Set<string>();
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  if (cn !== undefined) names.add(cn.trim().toLowerCase());
  for (const entry of (cert.subjectAltName ?? '').split(',')) {
    const match = /^\s*DNS:(.+)$/.exec(entry);
    if (match?.[1] !== undefined) names.add(match[1].trim().toLowerCase());
  }
  return [...names].sort();
}
