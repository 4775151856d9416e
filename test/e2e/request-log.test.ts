// The request log: one JSON line on stdout per request, with what an operator needs to read it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cutAfterFirstBytes, requestOnFreshConnection } from '../helpers/fresh-connection.js';
import { buildMultiArchIndex, http, type LayoutImage } from '../helpers/oci-images.js';
import { E2E_USER, requireCommand, skopeo, startQuayside, type RegistryServer } from '../helpers/processes.js';
import { authHeaders, pushScope, skopeoLogin } from '../helpers/registry-auth.js';
import { waitUntil } from '../helpers/wait.js';

type Json = Record<string, unknown>;

/** The first value found at one of the dotted paths (log field names differ between pino setups). */
function pick(line: Json, paths: string[]): unknown {
  for (const path of paths) {
    let value: unknown = line;
    for (const key of path.split('.')) {
      value = typeof value === 'object' && value !== null ? (value as Json)[key] : undefined;
    }
    if (value !== undefined) return value;
  }
  return undefined;
}

const FIELDS = {
  method: ['method', 'req.method', 'request.method'],
  url: ['url', 'path', 'req.url', 'request.url'],
  status: ['status', 'statusCode', 'res.statusCode', 'response.statusCode'],
  bytes: ['bytes', 'responseBytes', 'responseSize', 'contentLength', 'res.bytes', 'response.bytes'],
  duration: ['duration', 'durationMs', 'duration_ms', 'responseTime', 'res.duration'],
  client: ['client', 'clientAddress', 'remoteAddress', 'ip', 'req.remoteAddress', 'req.ip', 'request.remoteAddress'],
};

/** The stdout lines that parse as JSON objects. */
function jsonLines(lines: string[]): Json[] {
  const parsed: Json[] = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value === 'object' && value !== null) parsed.push(value as Json);
    } catch {
      // A non-JSON line on stdout (the startup banner) is allowed; request lines are checked below.
    }
  }
  return parsed;
}

const requestLines = (server: RegistryServer, method: string, url: string) =>
  jsonLines(server.process.stdoutLines()).filter(
    (line) => pick(line, FIELDS.method) === method && pick(line, FIELDS.url) === url && pick(line, FIELDS.status) !== undefined,
  );

/** Waits until `count` request lines for method + url are on stdout, then returns all there are. */
async function waitForRequestLines(server: RegistryServer, method: string, url: string, count: number): Promise<Json[]> {
  await waitUntil(`${count} request lines for ${method} ${url}`, () => requestLines(server, method, url).length >= count);
  // A line too many (a duplicate) would be written before the line of a request sent after it: send one
  // and wait for its line instead of sleeping.
  const marker = `/health/instance?log-marker=${randomUUID()}`;
  await http(`${server.url}${marker}`);
  await waitUntil('the marker request line', () => requestLines(server, 'GET', marker).length > 0);
  return requestLines(server, method, url);
}

describe('the request log', () => {
  let server: RegistryServer;
  let work: string;
  let image: LayoutImage;

  before(async () => {
    requireCommand('skopeo', 'apt-get install skopeo');
    work = await mkdtemp(join(tmpdir(), 'quayside-e2e-log-'));
    server = await startQuayside();
    await skopeoLogin(server, work);
    image = await buildMultiArchIndex(join(work, 'layout'), 'v1');
    await skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${image.dir}:v1`, `docker://${server.hostPort}/e2e/log:v1`]);
  });

  after(async () => {
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a skopeo manifest GET is logged with method, url, status, bytes, duration and client address', async () => {
    await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${server.hostPort}/e2e/log:v1`]);
    const url = '/v2/e2e/log/manifests/v1';
    const lines = await waitForRequestLines(server, 'GET', url, 1);
    assert.equal(lines.length, 1, `expected one JSON request line for GET ${url}, got ${lines.length}:\n${server.process.stdoutLines().slice(-20).join('\n')}`);
    const line = lines[0];
    assert.ok(line);
    assert.equal(pick(line, FIELDS.method), 'GET');
    assert.equal(pick(line, FIELDS.url), url);
    assert.equal(pick(line, FIELDS.status), 200);
    assert.equal(Number(pick(line, FIELDS.bytes)), image.manifestBytes.length, `bytes field wrong in ${JSON.stringify(line)}`);
    const duration = pick(line, FIELDS.duration);
    assert.equal(typeof duration, 'number', `no numeric duration in ${JSON.stringify(line)}`);
    assert.ok((duration as number) >= 0);
    assert.equal(pick(line, FIELDS.client), '127.0.0.1', `client address wrong in ${JSON.stringify(line)}`);
  });

  test('every request gets exactly one line, errors included', async () => {
    const marker = randomBytes(6).toString('hex');
    const url = `/v2/e2e/log-${marker}/tags/list`;
    const auth = await authHeaders(server, `repository:e2e/log-${marker}:pull`);
    for (let i = 0; i < 3; i += 1) {
      const res = await http(`${server.url}${url}`, { headers: auth });
      assert.equal(res.status, 404);
    }
    const lines = await waitForRequestLines(server, 'GET', url, 3);
    assert.equal(lines.length, 3, `expected 3 log lines for ${url}, got ${lines.length}`);
    for (const line of lines) assert.equal(pick(line, FIELDS.status), 404);
  });

  test('a pull the client cuts mid-blob gets its one line, marked cut, with the bytes that went out', async () => {
    const repository = `${E2E_USER.username}/cut-${randomBytes(4).toString('hex')}`;
    const headers = await authHeaders(server, pushScope(repository));
    // Far more than the loopback socket buffers hold, so most of it is never sent.
    const blob = randomBytes(64 * 1024 * 1024);
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const pushed = await requestOnFreshConnection(`${server.url}/v2/${repository}/blobs/uploads/?digest=${digest}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: blob });
    assert.equal(pushed.status, 201, pushed.body.toString());

    const url = `/v2/${repository}/blobs/${digest}`;
    const cut = await cutAfterFirstBytes(`${server.url}${url}`, headers);
    assert.equal(cut.status, 200);
    const lines = await waitForRequestLines(server, 'GET', url, 1);
    assert.equal(lines.length, 1, `expected one line for the cut pull, got ${JSON.stringify(lines)}`);
    const line = lines[0] as Json;
    assert.equal(line.cut, true, `not marked cut: ${JSON.stringify(line)}`);
    assert.equal(pick(line, FIELDS.status), 200);
    const bytes = Number(pick(line, FIELDS.bytes));
    assert.ok(bytes >= cut.received && bytes < blob.length, `bytes of the cut pull: ${bytes} of ${blob.length}, ${cut.received} received`);
  });
});
