import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { FAULT_REPORT_INTERVAL_MS, StorageFaultError, StorageFaults } from '../../src/storage/faults.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry-server.js';

const run = promisify(execFile);

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: something`), { code });
}

describe('StorageFaults', () => {
  it('classifies read-only, permission and space errors, and passes everything else through', () => {
    const faults = new StorageFaults('test store');
    const kinds = Object.fromEntries(
      ['EROFS', 'EACCES', 'EPERM', 'ENOSPC', 'EDQUOT'].map((code) => {
        const fault = faults.classify(errno(code));
        assert.ok(fault instanceof StorageFaultError);
        return [code, fault.kind];
      }),
    );
    assert.deepEqual(kinds, { EROFS: 'read-only', EACCES: 'permission-denied', EPERM: 'permission-denied', ENOSPC: 'no-space', EDQUOT: 'no-space' });
    const missing = errno('ENOENT');
    assert.equal(faults.classify(missing), missing);
    const plain = new Error('not an errno');
    assert.equal(faults.classify(plain), plain);
  });

  it('marks the first fault of a code for reporting, then one per interval', () => {
    let now = 1_000_000;
    const faults = new StorageFaults('test store', () => now);
    const report = (code: string) => (faults.classify(errno(code)) as StorageFaultError).report;
    assert.equal(report('ENOSPC'), true);
    assert.equal(report('ENOSPC'), false);
    assert.equal(report('EROFS'), true, 'another fault is reported on its own');
    now += FAULT_REPORT_INTERVAL_MS - 1;
    assert.equal(report('ENOSPC'), false);
    now += 1;
    assert.equal(report('ENOSPC'), true);
  });
});

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

function capturingLogger(lines: LogLine[]) {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as LogLine);
      callback();
    },
  });
  return pino({ level: 'info' }, sink);
}

/** A tmpfs of its own (tests run as root), so that the fault is real: chmod does not stop root. */
async function mountTmpfs(dir: string, options: string): Promise<void> {
  await run('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
}

async function unmount(dir: string): Promise<void> {
  await run('umount', [dir]).catch(() => undefined);
}

async function errorOf(response: Response): Promise<unknown> {
  const body = (await response.json()) as { errors: unknown[] };
  return body.errors[0];
}

describe('a read-only storage', () => {
  let dir: string;
  let reg: TestRegistry;
  const lines: LogLine[] = [];
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'quayside-ro-'));
    await mountTmpfs(dir, 'size=1m');
    const root = path.join(dir, 'root');
    await mkdir(path.join(root, 'sha256'), { recursive: true });
    await mkdir(path.join(root, 'uploads'), { recursive: true });
    await run('mount', ['-o', 'remount,ro', dir]);
    reg = await startTestRegistry({ blobs: new LocalBlobStore(root), logger: capturingLogger(lines) });
  });
  after(async () => {
    await reg?.close();
    await unmount(dir);
    await rm(dir, { recursive: true, force: true });
  });

  it('answers pushes 503 UNAVAILABLE saying the storage is read-only, and logs the fault once', async () => {
    const digest = `sha256:${createHash('sha256').update('layer').digest('hex')}`;
    for (let i = 0; i < 3; i++) {
      const start = await fetch(`${reg.url}/v2/ro/app/blobs/uploads/`, { method: 'POST' });
      assert.equal(start.status, 503);
      assert.deepEqual(await errorOf(start), {
        code: 'UNAVAILABLE',
        message: 'the storage is read-only; an operator must fix it',
        detail: { fault: 'read-only' },
      });
      const monolithic = await fetch(`${reg.url}/v2/ro/app/blobs/uploads/?digest=${digest}`, { method: 'POST', body: 'layer' });
      assert.equal(monolithic.status, 503);
      await monolithic.arrayBuffer();
    }
    const faults = lines.filter((l) => l.msg.startsWith('storage fault'));
    assert.equal(faults.length, 1, `expected one fault line, got ${JSON.stringify(faults)}`);
    assert.equal(faults[0]?.code, 'EROFS');
    assert.match(faults[0]?.msg ?? '', /the storage is read-only \(EROFS on local storage at /);
    assert.deepEqual(lines.filter((l) => l.msg === 'request failed'), [], 'a storage fault is not an internal error');
  });
});

describe('a full storage', () => {
  let dir: string;
  let root: string;
  let reg: TestRegistry;
  const lines: LogLine[] = [];
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'quayside-full-'));
    await mountTmpfs(dir, 'size=1m');
    root = path.join(dir, 'root');
    reg = await startTestRegistry({ blobs: new LocalBlobStore(root), logger: capturingLogger(lines) });
  });
  after(async () => {
    await reg?.close();
    await unmount(dir);
    await rm(dir, { recursive: true, force: true });
  });

  it('answers an upload that does not fit 507 saying the storage is full, logs it once, and leaves no temporary data', async () => {
    const layer = randomBytes(2 * 1024 * 1024);
    const digest = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
    for (let i = 0; i < 2; i++) {
      const put = await fetch(`${reg.url}/v2/full/app/blobs/uploads/?digest=${digest}`, { method: 'POST', body: layer });
      assert.equal(put.status, 507);
      assert.deepEqual(await errorOf(put), {
        code: 'UNAVAILABLE',
        message: 'the storage is full; an operator must fix it',
        detail: { fault: 'no-space' },
      });
    }
    assert.equal(lines.filter((l) => l.msg.startsWith('storage fault')).length, 1);
    assert.deepEqual(await readdir(path.join(root, 'uploads')), []);
    // What fits still goes in: the failed uploads gave their space back.
    const small = Buffer.from('small layer');
    const smallDigest = `sha256:${createHash('sha256').update(small).digest('hex')}`;
    const ok = await fetch(`${reg.url}/v2/full/app/blobs/uploads/?digest=${smallDigest}`, { method: 'POST', body: small });
    assert.equal(ok.status, 201);
  });
});
