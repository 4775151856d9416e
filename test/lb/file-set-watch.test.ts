// The watch on certificate files: a file replaced by rename (as renewal tools do) is reported once per change
// of content, a file dropped from the set is no longer reported, a file that does not exist yet is reported
// when it appears.
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { watchFileSet, type FileSetWatch } from '../../src/lb/sources/file-set-watch.js';

/** Polls until `check` holds, at most `timeoutMs` (fs events arrive asynchronously). */
async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('watchFileSet', () => {
  let dir: string;
  let watch: FileSetWatch;
  const events: string[] = [];
  let serial = 0;

  const replace = async (path: string, text: string) => {
    const tmp = join(dir, `.tmp-${++serial}`);
    await writeFile(tmp, text);
    await rename(tmp, path);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qlb-watch-'));
    watch = watchFileSet((path) => events.push(path), 20);
  });
  after(async () => {
    watch.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports a file replaced by rename with new content', async () => {
    const a = join(dir, 'a.pem');
    await writeFile(a, 'one');
    await watch.set([a]);
    await replace(a, 'two');
    await until('the change of a.pem', () => events.length > 0);
    assert.deepEqual(events, [a]);
  });

  it('stops reporting a file dropped from the set, and reports one that appears', async () => {
    events.length = 0;
    const a = join(dir, 'a.pem');
    const b = join(dir, 'b.pem');
    await watch.set([b]);
    await replace(a, 'three');
    await replace(b, 'now here');
    await until('b.pem appearing', () => events.includes(b));
    assert.deepEqual(events, [b], 'a.pem is no longer watched');
  });
});
