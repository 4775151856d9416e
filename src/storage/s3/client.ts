import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { S3StoreOptions } from './options.js';

/** Concurrent connections per store: parallel pulls of several blobs, plus the uploads in flight. */
const MAX_SOCKETS = 64;

/** The SDK client's configuration for a store (pure; exported for tests). */
export function s3ClientConfig(options: S3StoreOptions, extraCa: readonly string[]): S3ClientConfig {
  const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS };
  return {
    region: options.region,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    forcePathStyle: options.forcePathStyle,
    followRegionRedirects: options.followRegionRedirects,
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    maxAttempts: options.maxAttempts,
    retryMode: 'standard',
    // Bodies always have a known length and no trailing checksum: Swift's s3api and other compatibles
    // refuse aws-chunked uploads, and S3 needs no checksum beyond SigV4's payload hash.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({
      connectionTimeout: options.connectTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout: options.requestTimeoutMs,
      httpAgent: new http.Agent(agentOptions),
      // The system's roots plus the config directory's extra CAs (a private S3 behind an internal CA).
      httpsAgent: new https.Agent(extraCa.length === 0 ? agentOptions : { ...agentOptions, ca: [...rootCertificates, ...extraCa] }),
    }),
  };
}

/** A client for one store. */
export function createS3Client(options: S3StoreOptions, extraCa: readonly string[]): S3Client {
  return new S3Client(s3ClientConfig(options, extraCa));
}
