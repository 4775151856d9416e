import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { connectionLimitsFrom, guardConnections, openFilesLimit, type ConnectionGuard, type ConnectionLimits, type GuardLog } from '../../src/net/connection-guard.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';

interface LogLine {
  level: 'warn' | 'info';
  message: string;
  fields: Record<string, unknown>;
}

function capturingLog(lines: LogLine[]): GuardLog {
  return {
    warn: (fields, message) => lines.push({ level: 'warn', message, fields }),
    info: (fields, message) => lines.push({ level: 'info', message, fields }),
  };
}

/** Polls `condition` every 20 ms until it holds; fails after `timeoutMs`. */
async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface RawConnection {
  socket: net.Socket;
  /** Everything received so far. */
  received(): string;
  /** Resolves when the server closed (or reset) the connection. */
  closed: Promise<void>;
}

async function connectRaw(port: number): Promise<RawConnection> {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  const closed = new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => text, closed };
}

/** One request on its own connection (no keep-alive pool holding connections open). */
function requestOnce(url: string, method = 'GET'): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: response.headers }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

const LONG = 60_000;

function limits(overrides: Partial<ConnectionLimits>): ConnectionLimits {
  return { headersTimeoutMs: LONG, idleTimeoutMs: LONG, bodyIdleTimeoutMs: LONG, maxConnections: 1000, ...overrides };
}

function portOf(reg: TestRegistry): number {
  return Number(new URL(reg.url).port);
}

describe('connection limit', () => {
  let reg: TestRegistry;
  let guard: ConnectionGuard;
  const lines: LogLine[] = [];
  const held: RawConnection[] = [];
  before(async () => {
    reg = await startTestRegistry();
    guard = guardConnections(reg.app.server, limits({ maxConnections: 2 }), capturingLog(lines), { reportWindowMs: LONG });
  });
  after(async () => {
    for (const connection of held) connection.socket.destroy();
    guard?.stop();
    await reg?.close();
  });

  it('answers connections over the limit with a 503 in OCI error JSON, logs the burst once, and accepts again below it', async () => {
    for (let i = 0; i < 2; i++) {
      const connection = await connectRaw(portOf(reg));
      // Half a request: the connection is open and in use.
      connection.socket.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n');
      held.push(connection);
    }
    await waitFor('two connections held', () => guard.openConnections() === 2);

    for (let i = 0; i < 3; i++) {
      const refused = await requestOnce(`${reg.url}/v2/`);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['retry-after'], '1');
      assert.deepEqual(JSON.parse(refused.body), {
        errors: [{ code: 'UNAVAILABLE', message: 'too many connections to this instance; retry later', detail: { limit: 2 } }],
      });
    }
    const warnings = lines.filter((l) => l.level === 'warn');
    assert.equal(warnings.length, 1, 'one line for the burst, not one per refusal');
    assert.match(warnings[0]?.message ?? '', /HTTP_MAX_CONNECTIONS reached/);

    held.shift()?.socket.destroy();
    await waitFor('the held connection to close', () => guard.openConnections() === 1);
    const accepted = await requestOnce(`${reg.url}/v2/`);
    assert.equal(accepted.status, 200);

    guard.stop();
    const summary = lines.filter((l) => l.level === 'warn').at(-1);
    assert.deepEqual(summary?.fields, { refused: 2, limit: 2 });
  });
});

describe('a request body that stops making progress', () => {
  let reg: TestRegistry;
  let guard: ConnectionGuard;
  const lines: LogLine[] = [];
  before(async () => {
    reg = await startTestRegistry();
    guard = guardConnections(reg.app.server, limits({ bodyIdleTimeoutMs: 300 }), capturingLog(lines), { reportWindowMs: LONG });
  });
  after(async () => {
    guard?.stop();
    await reg?.close();
  });

  /** Sends the headers and part of a body that Content-Length says is much longer, then nothing. */
  async function stallBody(method: string, path: string, sent: number): Promise<RawConnection> {
    const connection = await connectRaw(portOf(reg));
    connection.socket.write(`${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n`);
    connection.socket.write(randomBytes(sent));
    return connection;
  }

  it('is cut, and the chunk it started is rolled back from the upload', { timeout: 30_000 }, async () => {
    const start = await requestOnce(`${reg.url}/v2/idle/app/blobs/uploads/`, 'POST');
    assert.equal(start.status, 202);
    const location = String(start.headers.location);
    const id = location.split('/').at(-1) ?? '';
    const first = await new Promise<number>((resolve, reject) => {
      const request = http.request(`${reg.url}${location}`, { method: 'PATCH', agent: false, headers: { 'content-type': 'application/octet-stream' } }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      });
      request.on('error', reject);
      request.end(randomBytes(1000));
    });
    assert.equal(first, 202);

    const stalled = await stallBody('PATCH', location, 5000);
    await stalled.closed;
    await waitFor('the partial chunk to be rolled back', async () => (await reg.blobs.uploadSize(id)) === 1000);
    const status = await requestOnce(`${reg.url}${location}`);
    assert.equal(status.status, 204);
    assert.equal(status.headers.range, '0-999');
    const cut = lines.filter((l) => /nothing moved/.test(l.message));
    assert.equal(cut.length, 1);
  });

  it('is cut during a monolithic upload, and its temporary object is removed', { timeout: 30_000 }, async () => {
    const future = new Date(Date.now() + 3_600_000);
    const before = new Set(await reg.blobs.listStaleUploads(future));
    const digest = `sha256:${createHash('sha256').update('never sent in full').digest('hex')}`;
    const stalled = await stallBody('POST', `/v2/idle/mono/blobs/uploads/?digest=${digest}`, 5000);
    await waitFor('the temporary object to exist', async () => (await reg.blobs.listStaleUploads(future)).length > before.size);
    await stalled.closed;
    await waitFor('the temporary object to be removed', async () => {
      const now = await reg.blobs.listStaleUploads(future);
      return now.length === before.size && now.every((id) => before.has(id));
    });
  });
});

describe('header and keep-alive deadlines', () => {
  let server: http.Server;
  let guard: ConnectionGuard;
  const lines: LogLine[] = [];
  before(async () => {
    server = http.createServer((_request, response) => response.end('ok'));
    guard = guardConnections(server, limits({ headersTimeoutMs: 500, idleTimeoutMs: 300, bodyIdleTimeoutMs: 10_000 }), capturingLog(lines));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    guard?.stop();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const port = () => (server.address() as net.AddressInfo).port;

  it('answers 408 and closes a connection whose headers trickle in past the deadline', { timeout: 30_000 }, async () => {
    const connection = await connectRaw(port());
    connection.socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    // A byte every 100 ms keeps the socket active, so only the header deadline can end it.
    const drip = setInterval(() => connection.socket.write('X-Drip: 1\r\n'), 100);
    try {
      await connection.closed;
    } finally {
      clearInterval(drip);
    }
    assert.match(connection.received(), /^HTTP\/1\.1 408 /);
  });

  it('closes a keep-alive connection left idle after its response, without calling it stalled', { timeout: 30_000 }, async () => {
    const connection = await connectRaw(port());
    connection.socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    await connection.closed;
    assert.match(connection.received(), /^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\nok$/);
    assert.deepEqual(lines.filter((l) => /nothing moved/.test(l.message)), []);
    await waitFor('the server side to count it closed', () => guard.openConnections() === 0);
  });
});

describe('a server slower than the idle deadline', () => {
  let server: http.Server;
  let guard: ConnectionGuard;
  const lines: LogLine[] = [];
  /** Resolves after the connection's idle timer fired `times` times (the guard saw it idle that often). */
  const idleTimeouts = (socket: net.Socket, times: number) =>
    new Promise<void>((resolve) => {
      let seen = 0;
      const onTimeout = () => {
        seen += 1;
        if (seen < times) return;
        socket.off('timeout', onTimeout);
        resolve();
      };
      socket.on('timeout', onTimeout);
    });
  before(async () => {
    // What a slow storage backend does to a request: the body is not read, or the answer does not start, for
    // longer than HTTP_BODY_IDLE_TIMEOUT_S, while the client has sent everything and waits.
    server = http.createServer((request, response) => {
      void (async () => {
        await idleTimeouts(request.socket, 2);
        let bytes = 0;
        for await (const chunk of request) bytes += (chunk as Buffer).length;
        response.end(String(bytes));
      })();
    });
    guard = guardConnections(server, limits({ bodyIdleTimeoutMs: 200 }), capturingLog(lines));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    guard?.stop();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const post = (body: Buffer) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const port = (server.address() as net.AddressInfo).port;
      const request = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
      });
      request.on('error', reject);
      request.end(body);
    });

  it('keeps a connection whose body the server has not read yet', { timeout: 30_000 }, async () => {
    const answer = await post(randomBytes(1024 * 1024));
    assert.deepEqual(answer, { status: 200, text: String(1024 * 1024) });
  });

  it('keeps a connection whose answer the server has not started yet', { timeout: 30_000 }, async () => {
    const answer = await post(Buffer.alloc(0));
    assert.deepEqual(answer, { status: 200, text: '0' });
    assert.deepEqual(lines.filter((l) => /nothing moved/.test(l.message)), []);
  });
});

describe('openFilesLimit', () => {
  it('reads the soft limit from /proc/self/limits text', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                524288               files\n';
    assert.equal(openFilesLimit(text), 20000);
    assert.equal(openFilesLimit('Max open files            unlimited            unlimited            files\n'), undefined);
    assert.equal(openFilesLimit('nothing here'), undefined);
  });
});

describe('connectionLimitsFrom', () => {
  it('maps the config keys, with their defaults, onto the guard\'s limits', () => {
    assert.deepEqual(connectionLimitsFrom(parseConfig('{}\n', 'config.yaml', {}).config), {
      headersTimeoutMs: 30_000,
      idleTimeoutMs: 30_000,
      bodyIdleTimeoutMs: 60_000,
      maxConnections: 4096,
    });
    const yaml = 'HTTP_HEADERS_TIMEOUT_S: 5\nHTTP_IDLE_TIMEOUT_S: 7\nHTTP_BODY_IDLE_TIMEOUT_S: 120\nHTTP_MAX_CONNECTIONS: 100\n';
    assert.deepEqual(connectionLimitsFrom(parseConfig(yaml, 'config.yaml', {}).config), {
      headersTimeoutMs: 5000,
      idleTimeoutMs: 7000,
      bodyIdleTimeoutMs: 120_000,
      maxConnections: 100,
    });
  });
});
