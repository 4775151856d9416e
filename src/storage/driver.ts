import type { z } from 'zod';
import type { BlobStore } from './blob-store.js';
import type { SharedTokenLink } from './shared-token-link.js';

/**
 * What a storage driver is to the rest of Quayside: Quay's driver name (the first element of a
 * DISTRIBUTED_STORAGE_CONFIG entry), one strict zod schema for its parameters (the second element, with
 * Quay's own key names), and a constructor. factory.ts looks drivers up by name, parses the parameters with
 * the schema (so an unknown key, a missing or mistyped one is one line naming location, key and problem,
 * from `serve` and `config validate` alike), then builds the store. Building does no I/O; the store's
 * `ping()` is the first thing that talks to the backend.
 */
export interface StorageDriver<Params = unknown> {
  /** Quay's driver name: LocalStorage, S3Storage, SwiftStorage, ... */
  readonly name: string;
  /** Parses the location's parameters; strict: keys the driver does not know are refused. */
  readonly params: z.ZodType<Params>;
  /** Builds the store for a location; no I/O. */
  create(params: Params, context: StorageDriverContext): BlobStore;
}

/** What every driver gets besides its own parameters. */
export interface StorageDriverContext {
  /** The location's name in DISTRIBUTED_STORAGE_CONFIG, for log lines and errors. */
  readonly location: string;
  /**
   * PEM CA certificates to trust, in addition to the system roots, for TLS to the backend: the config
   * directory's extra_ca_certs/ (a driver's own ca_cert_path adds to these).
   */
  readonly extraCa: readonly string[];
  /** The clock, injectable for tests (token expiry, temp URL expiry, stale-upload cutoffs). */
  readonly now: () => number;
  /**
   * The fleet's shared auth-token cache, attached once the database is open (SwiftStorage shares its Keystone
   * or v1 token through it; other drivers ignore it). Absent: tokens stay in this process's memory.
   */
  readonly sharedTokens?: SharedTokenLink;
}

/** The marker Quay writes and reads back to validate a location: `<storage_path>/_verify`. */
export const VERIFY_MARKER_NAME = '_verify';
export const VERIFY_MARKER_CONTENT = 'testing 123';
