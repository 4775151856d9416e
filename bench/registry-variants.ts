// What this build of quayside can be benchmarked with: worker processes (WORKER_COUNT_REGISTRY) and Redis
// (DATA_MODEL_CACHE_CONFIG). A feature the build lacks is reported as such, never imitated.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../test/helpers/processes.js';

async function configKeys(): Promise<ReadonlySet<string>> {
  return (await import(pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'config', 'schema.js')).href) as { CONFIG_KEYS: ReadonlySet<string> }).CONFIG_KEYS;
}

/** True when the config schema reads WORKER_COUNT_REGISTRY (the worker-process build). */
export async function supportsWorkers(): Promise<boolean> {
  return (await configKeys()).has('WORKER_COUNT_REGISTRY');
}

/** True when the config schema reads DATA_MODEL_CACHE_CONFIG (the Redis cache build). */
export async function supportsRedis(): Promise<boolean> {
  return (await configKeys()).has('DATA_MODEL_CACHE_CONFIG');
}

/** config.yaml lines that point Quay's Redis keys at the machine's Redis (127.0.0.1:6379). */
export function redisConfigLines(host = '127.0.0.1', port = 6379): string[] {
  return [
    'DATA_MODEL_CACHE_CONFIG:',
    '  engine: redis',
    `  redis_config: {primary: {host: ${host}, port: ${port}}}`,
    `BUILDLOGS_REDIS: {host: ${host}, port: ${port}}`,
    `USER_EVENTS_REDIS: {host: ${host}, port: ${port}}`,
  ];
}
