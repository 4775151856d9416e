import type { RDSClient } from '@aws-sdk/client-rds';

/**
 * DBInstanceStatus values (AWS RDS User Guide, "DB instance status") during which RDS itself makes the database
 * unreachable for a while and brings it back on its own: a reboot (a Multi-AZ "reboot with failover" included;
 * RDS has no instance status named failing-over), a modification (an instance class change fails over), RDS's
 * scheduled maintenance, an engine upgrade, a backup (single-AZ snapshots suspend I/O) and an Aurora MySQL
 * backtrack. Every instance of the fleet sees the same outage, so draining them all would only add downtime.
 * Left out on purpose: `available` (the database is up, so the fault is this instance's), states RDS documents
 * as fully operational (configuring-*, storage-optimization), and states that do not end by themselves or
 * change what the registry connects to (stopped, failed, storage-full, renaming, resetting-master-credentials,
 * incompatible-*, deleting, ...).
 */
export const RDS_TRANSIENT_STATES: ReadonlySet<string> = new Set([
  'rebooting',
  'modifying',
  'maintenance',
  'upgrading',
  'backing-up',
  'backtracking',
]);

/** What RDS said about the instance: its status, or why no status could be had. */
export type RdsAnswer = { status: string } | { error: string };

export interface RdsStatusOptions {
  region: string;
  dbInstance: string;
  accessKey?: string;
  secretKey?: string;
  /** The RDS API endpoint (default: the region's); the SDK's own `endpoint` option. */
  endpoint?: string;
  /** Bound on one DescribeDBInstances call (default 2 s). */
  timeoutMs?: number;
  /** How long an answer is reused, so health probes every few seconds do not each call the API (default 10 s). */
  cacheMs?: number;
}

/** Asks RDS for one instance's status, at most once per `cacheMs`; concurrent callers share one request. */
export function rdsStatusLookup(options: RdsStatusOptions): () => Promise<RdsAnswer> {
  const credentials =
    options.accessKey !== undefined && options.secretKey !== undefined
      ? { accessKeyId: options.accessKey, secretAccessKey: options.secretKey }
      : undefined;
  // The SDK is loaded on the first question only: an instance whose database never fails does not pay its memory.
  let client: Promise<{ rds: RDSClient; describe: typeof import('@aws-sdk/client-rds').DescribeDBInstancesCommand }> | undefined;
  const connect = () => {
    client ??= import('@aws-sdk/client-rds').then(({ RDSClient: Client, DescribeDBInstancesCommand }) => ({
      // One attempt: a retry would outlast the health probe's own deadline.
      rds: new Client({ region: options.region, endpoint: options.endpoint, credentials, maxAttempts: 1 }),
      describe: DescribeDBInstancesCommand,
    }));
    return client;
  };
  const timeoutMs = options.timeoutMs ?? 2000;
  const cacheMs = options.cacheMs ?? 10_000;
  let cached: { answer: Promise<RdsAnswer>; at: number } | undefined;

  const ask = async (): Promise<RdsAnswer> => {
    try {
      const { rds, describe } = await connect();
      const out = await rds.send(new describe({ DBInstanceIdentifier: options.dbInstance }), {
        abortSignal: AbortSignal.timeout(timeoutMs),
      });
      const match = (out.DBInstances ?? []).find((db) => db.DBInstanceIdentifier === options.dbInstance);
      if (match?.DBInstanceStatus === undefined) return { error: `RDS does not list instance ${options.dbInstance}` };
      return { status: match.DBInstanceStatus };
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      const message = error instanceof Error ? error.message : String(error);
      return { error: `RDS DescribeDBInstances failed: ${name}: ${message}` };
    }
  };

  return () => {
    const now = Date.now();
    if (cached === undefined || now - cached.at >= cacheMs) cached = { answer: ask(), at: now };
    return cached.answer;
  };
}
