// The README's object-storage example is a configuration `quayside config validate` accepts as written: every
// driver name and parameter in it is one the drivers' strict schemas know.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { quaysideCli, run } from '../helpers/processes.js';
import { blockStarting, readmeBlocks } from './blocks.js';

describe('README object-storage example', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'quayside-readme-storage-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('validates as written, S3Storage and SwiftStorage included', async () => {
    const block = blockStarting(await readmeBlocks('yaml'), /^DISTRIBUTED_STORAGE_CONFIG:\n {2}s3:/);
    assert.match(block, /- S3Storage/);
    assert.match(block, /- SwiftStorage/);
    const file = join(work, 'config.yaml');
    await writeFile(file, `${block}\n`);
    const result = await run(process.execPath, [quaysideCli(), 'config', 'validate', file], { timeoutMs: 60_000 });
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /valid/);
    // The second location is a read fallback (docs/geo-replication.md): nothing to warn about.
    assert.equal(result.stderr, '');
  });

  it('the geo-replication example validates as written, without a warning', async () => {
    const block = blockStarting(await readmeBlocks('yaml'), /^DISTRIBUTED_STORAGE_CONFIG:\n {2}us:/);
    assert.match(block, /FEATURE_STORAGE_REPLICATION: true/);
    const file = join(work, 'geo.yaml');
    await writeFile(file, `${block}\n`);
    const result = await run(process.execPath, [quaysideCli(), 'config', 'validate', file], { timeoutMs: 60_000 });
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /valid/);
    assert.equal(result.stderr, '');
  });
});
