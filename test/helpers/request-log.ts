// The request lines `quayside serve` writes on stdout (one JSON object per request), for tests that check
// what a real client did on the wire (a cross-repository mount instead of an upload, for instance).
import type { RegistryServer } from './processes.js';

/** One request as the server logged it. */
export interface LoggedRequest {
  method: string;
  url: string;
  status: number;
}

/** Every request line the server has written so far, oldest first. */
export function loggedRequests(server: RegistryServer): LoggedRequest[] {
  const requests: LoggedRequest[] = [];
  for (const line of server.process.stdoutLines()) {
    if (!line.startsWith('{')) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    const { method, url, status } = value as Record<string, unknown>;
    if (typeof method === 'string' && typeof url === 'string' && typeof status === 'number') requests.push({ method, url, status });
  }
  return requests;
}

/** The blob requests of one repository: upload starts (POST), chunks (PATCH), commits (PUT) and mounts. */
export function blobWrites(server: RegistryServer, repository: string): { mounted: LoggedRequest[]; uploads: LoggedRequest[] } {
  const prefix = `/v2/${repository}/blobs/uploads/`;
  const writes = loggedRequests(server).filter((r) => r.url.startsWith(prefix) && r.method !== 'GET' && r.method !== 'HEAD');
  const isMount = (r: LoggedRequest) => r.method === 'POST' && new URL(r.url, 'http://x').searchParams.has('mount');
  return {
    mounted: writes.filter((r) => isMount(r) && r.status === 201),
    uploads: writes.filter((r) => !isMount(r) || r.status !== 201),
  };
}
