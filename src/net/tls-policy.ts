/**
 * Quay's SSL_PROTOCOLS and SSL_CIPHERS mapped onto Node's TLS options. The defaults are TLS 1.2 and 1.3 with
 * forward-secret AEAD ciphers only (Mozilla's "intermediate" profile) and ALPN h2 + http/1.1.
 */
import { constants } from 'node:crypto';
import { createSecureContext, type SecureContextOptions, type SecureVersion } from 'node:tls';
import { oneLine } from './pem-certificates.js';

export const DEFAULT_TLS_PROTOCOLS: readonly string[] = ['TLSv1.2', 'TLSv1.3'];
export const DEFAULT_TLS_CIPHERS: readonly string[] = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];
export const DEFAULT_ALPN_PROTOCOLS: readonly string[] = ['h2', 'http/1.1'];

/** What the configuration says about TLS; every field optional, defaults above. */
export interface TlsPolicy {
  /** SSL_PROTOCOLS, e.g. ['TLSv1.2', 'TLSv1.3']. */
  protocols?: readonly string[];
  /** SSL_CIPHERS: OpenSSL cipher names (TLS 1.3 suites start with TLS_), or one colon-separated string. */
  ciphers?: readonly string[] | string;
  /** Protocols offered with ALPN, in preference order. */
  alpnProtocols?: readonly string[];
}

/** A policy refused: the message is one line starting with the configuration key. */
export class TlsPolicyError extends Error {
  override readonly name = 'TlsPolicyError';
}

/** The policy as secure-context options (no certificate yet) and the ALPN list. */
export interface ResolvedTlsPolicy {
  contextOptions: Pick<SecureContextOptions, 'minVersion' | 'maxVersion' | 'ciphers' | 'secureOptions'>;
  alpnProtocols: string[];
  /** Versions older than TLS 1.2 are enabled (worth a warning). */
  legacyProtocols: boolean;
}

const VERSIONS: ReadonlyArray<{ name: SecureVersion; disable: number }> = [
  { name: 'TLSv1', disable: constants.SSL_OP_NO_TLSv1 },
  { name: 'TLSv1.1', disable: constants.SSL_OP_NO_TLSv1_1 },
  { name: 'TLSv1.2', disable: constants.SSL_OP_NO_TLSv1_2 },
  { name: 'TLSv1.3', disable: constants.SSL_OP_NO_TLSv1_3 },
];

/** Checks the policy and maps it; throws TlsPolicyError naming the key at fault. */
export function resolveTlsPolicy(policy: TlsPolicy = {}): ResolvedTlsPolicy {
  const protocols = policy.protocols ?? DEFAULT_TLS_PROTOCOLS;
  if (protocols.length === 0) throw new TlsPolicyError('SSL_PROTOCOLS: the list is empty; name at least one of TLSv1.2, TLSv1.3');
  const indexes = protocols.map((name) => {
    const index = VERSIONS.findIndex((v) => v.name === name);
    if (index < 0) {
      const hint = /^SSLv[23]$/.test(name) ? ' (SSL 2 and 3 are broken and not supported)' : '';
      throw new TlsPolicyError(`SSL_PROTOCOLS: unknown protocol ${JSON.stringify(name)}${hint}; use TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3`);
    }
    return index;
  });
  const lowest = Math.min(...indexes);
  const highest = Math.max(...indexes);
  // A list with a hole (TLSv1.1 and TLSv1.3 only) keeps the hole closed with OpenSSL's "no TLS x" flags.
  let secureOptions = 0;
  for (let i = lowest; i <= highest; i++) if (!indexes.includes(i)) secureOptions |= VERSIONS[i]!.disable;
  const cipherList = policy.ciphers ?? DEFAULT_TLS_CIPHERS;
  const ciphers = typeof cipherList === 'string' ? cipherList : cipherList.join(':');
  if (ciphers.trim() === '') throw new TlsPolicyError('SSL_CIPHERS: the list is empty');
  try {
    createSecureContext({ ciphers });
  } catch (error) {
    throw new TlsPolicyError(`SSL_CIPHERS: OpenSSL refuses ${JSON.stringify(ciphers.slice(0, 200))} (${oneLine(error)})`);
  }
  const alpnProtocols = [...(policy.alpnProtocols ?? DEFAULT_ALPN_PROTOCOLS)];
  for (const protocol of alpnProtocols) {
    if (protocol.length === 0 || Buffer.byteLength(protocol) > 255) throw new TlsPolicyError(`ALPN: protocol id ${JSON.stringify(protocol)} must be 1 to 255 bytes`);
  }
  return {
    contextOptions: { minVersion: VERSIONS[lowest]!.name, maxVersion: VERSIONS[highest]!.name, ciphers, secureOptions },
    alpnProtocols,
    legacyProtocols: lowest < 2,
  };
}
