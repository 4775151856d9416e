// `quayside storage validate` and the storage checks `serve` runs at start, through the built binary: every
// location gets Quay's _verify marker; a bad location is one line, the same from `serve`, `config validate`
// and `storage validate`; a failing location other than the preferred one is a warning at serve start.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertOneLineFailure, runQuayside } from '../helpers/cli.js';
import { startQuayside, type RegistryServer } from '../helpers/processes.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'quayside-cli-storage-'));
});
after(() => rm(work, { recursive: true, force: true }));

/** Writes a config.yaml in its own directory with the given storage section; returns its path. */
async function configWith(name: string, storage: string): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'config.yaml');
  await writeFile(file, `DB_URI: sqlite:///${join(dir, 'quayside.db')}\n${storage}`);
  return file;
}

/** A path under a regular file: no directory can ever be created there (ENOTDIR), even as root. */
async function impossibleDir(name: string): Promise<string> {
  const file = join(work, `${name}-file`);
  await writeFile(file, 'a file, not a directory');
  return join(file, 'storage');
}

describe('quayside storage validate', () => {
  it('writes _verify = "testing 123" in every location, one ok line each, progress on stderr, exit 0', async () => {
    const eu = join(work, 'two', 'eu');
    const us = join(work, 'two', 'us');
    const config = await configWith('two', `DISTRIBUTED_STORAGE_CONFIG:
  eu: [LocalStorage, {storage_path: ${eu}}]
  us: [LocalStorage, {storage_path: ${us}}]
DISTRIBUTED_STORAGE_PREFERENCE: [us]
`);
    const result = await runQuayside(work, 'storage', 'validate', '--config', config);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n'), [
      'storage location us (LocalStorage): ok',
      'storage location eu (LocalStorage): ok',
    ]);
    assert.match(result.stderr, /^checking storage location us \(LocalStorage\)\.\.\.$/m);
    assert.match(result.stderr, /^checking storage location eu \(LocalStorage\)\.\.\.$/m);
    for (const dir of [eu, us]) assert.equal(await readFile(join(dir, '_verify'), 'utf8'), 'testing 123');
  });

  it('reads the config.yaml of --config-dir', async () => {
    const file = await configWith('dir', `DISTRIBUTED_STORAGE_CONFIG:
  only: [LocalStorage, {storage_path: ${join(work, 'dir', 'blobs')}}]
DISTRIBUTED_STORAGE_PREFERENCE: [only]
`);
    const result = await runQuayside(work, 'storage', 'validate', '--config-dir', join(work, 'dir'));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'storage location only (LocalStorage): ok\n');
    assert.equal(await readFile(join(work, 'dir', 'blobs', '_verify'), 'utf8'), 'testing 123');
    assert.ok(file.endsWith('config.yaml'));
  });

  it('says which location failed and why, checks the others anyway, and exits 1', async () => {
    const broken = await impossibleDir('validate');
    const good = join(work, 'mixed', 'good');
    const config = await configWith('mixed', `DISTRIBUTED_STORAGE_CONFIG:
  good: [LocalStorage, {storage_path: ${good}}]
  broken: [LocalStorage, {storage_path: ${broken}}]
DISTRIBUTED_STORAGE_PREFERENCE: [good]
`);
    const result = await runQuayside(work, 'storage', 'validate', '--config', config);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n'), [
      'storage location good (LocalStorage): ok',
      `storage location broken (LocalStorage): FAILED: LocalStorage directory ${broken} is not writable: not a directory`,
    ]);
    assert.match(result.stderr, /^1 of 2 storage location\(s\) failed$/m);
    assert.ok(!result.stderr.includes('    at '), result.stderr);
  });

  it('prints its usage for a missing or unknown action (exit 2) and for --help (exit 0)', async () => {
    assert.equal((await runQuayside(work, 'storage')).code, 2);
    assert.equal((await runQuayside(work, 'storage', 'frobnicate')).code, 2);
    const help = await runQuayside(work, 'storage', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: quayside storage validate/);
  });
});

describe('a bad storage location is the same one line from serve, config validate and storage validate', () => {
  const cases: [string, string, RegExp][] = [
    ['missing parameter', 'bad: [LocalStorage, {}]', /: DISTRIBUTED_STORAGE_CONFIG\.bad: LocalStorage: storage_path: required \(expected a string\)$/],
    ['mistyped parameter', 'bad: [LocalStorage, {storage_path: 5}]', /: DISTRIBUTED_STORAGE_CONFIG\.bad: LocalStorage: storage_path: expected a string, got the number 5$/],
    ['unknown parameter', 'bad: [LocalStorage, {storage_path: /tmp/x, s3_bucket: b}]', /: DISTRIBUTED_STORAGE_CONFIG\.bad: LocalStorage: s3_bucket: unknown parameter$/],
    ['unknown driver', 'bad: [FloppyStorage, {}]', /: DISTRIBUTED_STORAGE_CONFIG\.bad: unknown storage driver "FloppyStorage" \(available: LocalStorage[^)]*\)$/],
    ['Quay driver not in this build', 'bad: [AzureStorage, {azure_container: c}]', /: DISTRIBUTED_STORAGE_CONFIG\.bad: storage driver AzureStorage is not available in this version of Quayside \(available: LocalStorage[^)]*\)$/],
  ];
  for (const [what, entry, pattern] of cases) {
    it(what, async () => {
      // The bad location is not the preferred one: every location is checked, used or not.
      const config = await configWith(`bad-${what.replace(/\W+/g, '-')}`, `DISTRIBUTED_STORAGE_CONFIG:
  good: [LocalStorage, {storage_path: ${join(work, 'unused')}}]
  ${entry}
DISTRIBUTED_STORAGE_PREFERENCE: [good]
`);
      const lines = [
        assertOneLineFailure(await runQuayside(work, 'config', 'validate', config), 1, pattern),
        assertOneLineFailure(await runQuayside(work, 'storage', 'validate', '--config', config), 1, pattern),
        assertOneLineFailure(await runQuayside(work, 'serve', '--config', config, '--port', '0', '--address', '127.0.0.1'), 1, pattern),
      ];
      assert.equal(new Set(lines).size, 1, lines.join('\n'));
    });
  }
});

describe('quayside serve checks every storage location at start', () => {
  let server: RegistryServer | undefined;
  after(async () => server?.stop());

  it('serves from the preferred location and warns, in one line, about another one that fails its check', async () => {
    const broken = await impossibleDir('serve');
    const preferred = join(work, 'serve', 'preferred');
    const config = await configWith('serve', `DISTRIBUTED_STORAGE_CONFIG:
  main: [LocalStorage, {storage_path: ${preferred}}]
  spare: [LocalStorage, {storage_path: ${broken}}]
DISTRIBUTED_STORAGE_PREFERENCE: [main]
`);
    server = await startQuayside({ config, dataDir: join(work, 'serve', 'data'), user: false });
    const warning = `warning: storage location spare: LocalStorage directory ${broken} is not writable: not a directory`;
    assert.ok(server.process.stderrLines().includes(warning), server.process.stderrLines().join('\n'));
    assert.equal(await readFile(join(preferred, '_verify'), 'utf8'), 'testing 123', 'the preferred location was checked');
    const base = await fetch(`${server.url}/v2/`);
    assert.equal(base.status, 401);
    await server.stop();
    server = undefined;
  });

  it('refuses to start, in one line, when the preferred location fails its check', async () => {
    const broken = await impossibleDir('serve-preferred');
    const config = await configWith('serve-preferred', `DISTRIBUTED_STORAGE_CONFIG:
  main: [LocalStorage, {storage_path: ${broken}}]
  spare: [LocalStorage, {storage_path: ${join(work, 'serve-preferred', 'spare')}}]
DISTRIBUTED_STORAGE_PREFERENCE: [main]
`);
    const result = await runQuayside(work, 'serve', '--config', config, '--data-dir', join(work, 'serve-preferred', 'data'), '--port', '0', '--address', '127.0.0.1');
    assert.equal(result.code, 1, result.stderr);
    // The refusal is one line.
    const lines = result.stderr.split('\n').filter((line) => line !== '');
    assert.deepEqual(lines, [`storage location main: LocalStorage directory ${broken} is not writable: not a directory`]);
  });
});
